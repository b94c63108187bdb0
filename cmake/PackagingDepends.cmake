#   Run by cpack (CPACK_PROJECT_CONFIG_FILE) before it makes a package:
#   refuses a build that was not configured for one, and gives zexec-dev
#   a dependency on the Debian package that holds each pkg-config module
#   libzexec.pc requires (libzmq -> libzmq3-dev, ...), with its version.
#   So a library added to libzexec.pc is a dependency of zexec-dev with
#   no line here.

if (NOT CPACK_GENERATOR STREQUAL "DEB")
    return ()
endif ()
if (NOT CPACK_ZEXEC_INSTALL_PREFIX STREQUAL "/usr" OR NOT CPACK_ZEXEC_INSTALL_SYSTEMD)
    message (FATAL_ERROR "zexec: the Debian packages need a build configured with "
             "-DCMAKE_INSTALL_PREFIX=/usr -DZEXEC_INSTALL_SYSTEMD=ON (this one has "
             "${CPACK_ZEXEC_INSTALL_PREFIX} and ZEXEC_INSTALL_SYSTEMD=${CPACK_ZEXEC_INSTALL_SYSTEMD}); "
             "scripts/package.sh makes one")
endif ()

#   "Requires: a >= 1, b" and "Requires.private: ..." as one list of
#   "name[ op version]"
file (STRINGS "${CPACK_ZEXEC_PC_FILE}" lines REGEX "^Requires(\\.private)?:")
set (modules "")
foreach (line ${lines})
    string (REGEX REPLACE "^Requires(\\.private)?:[ \t]*" "" line "${line}")
    string (REPLACE "," ";" entries "${line}")
    foreach (entry ${entries})
        string (STRIP "${entry}" entry)
        if (entry)
            list (APPEND modules "${entry}")
        endif ()
    endforeach ()
endforeach ()

set (depends "")
foreach (module ${modules})
    if (NOT module MATCHES "^([^ <>=!]+)[ ]*(([<>=!]+)[ ]*([^ ]+))?$")
        message (FATAL_ERROR "zexec: cannot read '${module}' in libzexec.pc's Requires")
    endif ()
    set (name ${CMAKE_MATCH_1})
    set (constraint "")
    if (CMAKE_MATCH_2)
        set (op ${CMAKE_MATCH_3})
        if (op STREQUAL ">")
            set (op ">>")
        elseif (op STREQUAL "<")
            set (op "<<")
        endif ()
        set (constraint " (${op} ${CMAKE_MATCH_4})")
    endif ()
    execute_process (COMMAND pkg-config --variable=pcfiledir ${name}
                     OUTPUT_VARIABLE dir OUTPUT_STRIP_TRAILING_WHITESPACE
                     RESULT_VARIABLE rc)
    set (owner "")
    if (rc EQUAL 0 AND dir)
        file (REAL_PATH "${dir}/${name}.pc" pc)
        foreach (path "${dir}/${name}.pc" "${pc}")
            if (NOT owner)
                execute_process (COMMAND dpkg-query --search "${path}"
                                 OUTPUT_VARIABLE owner OUTPUT_STRIP_TRAILING_WHITESPACE
                                 ERROR_QUIET)
            endif ()
        endforeach ()
    endif ()
    #   "libzmq3-dev:amd64: /usr/lib/x86_64-linux-gnu/pkgconfig/libzmq.pc"
    if (NOT owner MATCHES "^([^:, ]+)[^ ]*: ")
        message (FATAL_ERROR "zexec: no Debian package holds the pkg-config module "
                 "'${name}' that libzexec.pc requires (pkg-config --variable=pcfiledir "
                 "${name}: '${dir}'); install it from Debian")
    endif ()
    list (APPEND depends "${CMAKE_MATCH_1}${constraint}")
endforeach ()

list (REMOVE_DUPLICATES depends)
list (JOIN depends ", " depends)
if (depends)
    string (APPEND CPACK_DEBIAN_DEV_PACKAGE_DEPENDS ", ${depends}")
endif ()
message (STATUS "zexec-dev depends on: ${CPACK_DEBIAN_DEV_PACKAGE_DEPENDS}")
