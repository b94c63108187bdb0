#   Debian packages, made by `cpack -G DEB` in a build configured for them
#   (scripts/package.sh does it: Release, -DCMAKE_INSTALL_PREFIX=/usr
#   -DZEXEC_INSTALL_SYSTEMD=ON), one per install component:
#
#       zexec       (runtime) the programs, libzexec.so.0, the man pages,
#                   the docs, the systemd units and /etc/zexec (conffiles)
#       zexec-dev   (dev) zexec.h and include/zexec/, libzexec.a, the
#                   libzexec.so link, libzexec.pc and lib/cmake/zexec/
#
#   Their dependencies come from the build, so a new library needs no line
#   here: dpkg-shlibdeps reads what zexec's binaries link, and zexec-dev
#   depends on the package holding each pkg-config module that libzexec.pc
#   requires (cmake/PackagingDepends.cmake, which cpack runs).

set (CPACK_GENERATOR DEB)
set (CPACK_PACKAGE_NAME zexec)
set (CPACK_PACKAGE_VENDOR zexec)
set (CPACK_PACKAGE_CONTACT
     "zexec maintainers <maintainers@users.noreply.r-seed-d6e4e864.example>")
set (CPACK_PACKAGING_INSTALL_PREFIX /usr)
#   Absolute destinations (/etc/zexec) land in the package, not on this host
set (CPACK_SET_DESTDIR ON)
set (CPACK_STRIP_FILES ON)

set (CPACK_DEB_COMPONENT_INSTALL ON)
set (CPACK_COMPONENTS_ALL runtime dev)
set (CPACK_DEBIAN_PACKAGE_RELEASE 1)
set (CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)       #   NAME_VERSION-RELEASE_ARCH.deb
set (CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set (ZEXEC_DEB_VERSION ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})

#   zexec: what the programs and the library link, from dpkg-shlibdeps;
#   adduser for the postinst. Its shlibs file lets other packages depend
#   on libzexec.so.0 the same way.
set (CPACK_DEBIAN_RUNTIME_PACKAGE_NAME zexec)
set (CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
set (CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set (CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS adduser)
#   share/zexec/python/zexec_peer.py, the Python worker and coordinator
set (CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "python3, python3-zmq, python3-msgpack")
set (CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set (CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
     ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
     ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
     ${PROJECT_SOURCE_DIR}/packaging/debian/postrm
     ${PROJECT_SOURCE_DIR}/packaging/debian/triggers
     ${PROJECT_BINARY_DIR}/packaging/debian/conffiles)
set (CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set (CPACK_DEBIAN_RUNTIME_DESCRIPTION
"run C tasks in thread and process pools and on other machines over ZeroMQ
zexec runs work from C programs in threads, in processes and on other
machines, the way Python's asyncio run_in_executor does; each reply
completes a future.
.
This package holds the shared library libzexec.so.0 and the programs:
zexec-broker routes tasks from coordinators to workers over tcp or ipc,
with CURVE keys; zexec-worker runs the tasks of task libraries for a
broker; zexec-keygen makes CURVE key pairs; zexec-top shows what a
broker is doing, live. Also their man pages and
systemd units (zexec-broker.service, zexec-worker@.service) with example
configurations in /etc/zexec; the units are not enabled on install.")

#   zexec-dev: zexec of this very version, and what a static link or
#   find_package (zexec) needs (PackagingDepends.cmake appends the -dev
#   packages of libzexec.pc's modules)
set (CPACK_DEBIAN_DEV_PACKAGE_NAME zexec-dev)
set (CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set (CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "zexec (= ${ZEXEC_DEB_VERSION}), pkg-config")
set (CPACK_DEBIAN_DEV_DESCRIPTION
"run C tasks in thread and process pools over ZeroMQ (development files)
zexec runs work from C programs in threads, in processes and on other
machines, the way Python's asyncio run_in_executor does; each reply
completes a future.
.
This package holds the header zexec.h, the static library libzexec.a,
the libzexec.so link, pkg-config's libzexec.pc and the CMake package
(find_package (zexec), targets zexec::zexec and zexec::zexec-static).")

#   Read by cpack (CPACK_ variables reach it): the check that this build
#   is one to package, and zexec-dev's dependencies
set (CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_LIST_DIR}/PackagingDepends.cmake)
set (CPACK_ZEXEC_PC_FILE ${PROJECT_BINARY_DIR}/libzexec.pc.stage)
set (CPACK_ZEXEC_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set (CPACK_ZEXEC_INSTALL_SYSTEMD ${ZEXEC_INSTALL_SYSTEMD})

include (CPack)
