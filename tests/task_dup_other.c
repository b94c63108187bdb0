/*  task_dup_other.c - the second registration of 'blocks' for
    task_dup_main.c.                                                      */
#include "zexec.h"

const char *task_dup_other_file = __FILE__;
const int task_dup_other_line = __LINE__; ZX_TASK (blocks)
{
    return zx_call_return_int (call, 2);
}
