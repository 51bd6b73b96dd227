# Run by ctest (core.links_without_the_loop): proves that test_core_alone, a program using
# only the coroutine types and linked against corio::core alone, holds no part of the event
# loop and does not depend on liburing.
#   cmake -DPROGRAM=<test_core_alone> -DNM=<nm> -DREADELF=<readelf> -P check_core_alone.cmake

execute_process(COMMAND ${NM} -C ${PROGRAM}
    OUTPUT_VARIABLE symbols RESULT_VARIABLE nm_result)
if(NOT nm_result EQUAL 0)
    message(FATAL_ERROR "nm failed on ${PROGRAM}")
endif()
foreach(forbidden IN ITEMS "corio::event_loop" "corio::detail::task_state_base::" "io_uring"
                           "corio::detail::reactor")
    string(FIND "${symbols}" "${forbidden}" at)
    if(NOT at EQUAL -1)
        string(SUBSTRING "${symbols}" ${at} 200 context)
        message(FATAL_ERROR "${PROGRAM} holds a symbol of the loop: ...${context}")
    endif()
endforeach()
# The program must actually use the core (else the check above proves nothing).
string(FIND "${symbols}" "corio::detail::installed_task_hooks" hooks_at)
if(hooks_at EQUAL -1)
    message(FATAL_ERROR "${PROGRAM} does not hold corio::core's task hooks")
endif()

execute_process(COMMAND ${READELF} -d ${PROGRAM}
    OUTPUT_VARIABLE dynamic RESULT_VARIABLE readelf_result)
if(NOT readelf_result EQUAL 0)
    message(FATAL_ERROR "readelf failed on ${PROGRAM}")
endif()
if(dynamic MATCHES "liburing")
    message(FATAL_ERROR "${PROGRAM} depends on liburing:\n${dynamic}")
endif()
if(dynamic MATCHES "\\[libcorio\\.so")
    message(FATAL_ERROR "${PROGRAM} depends on libcorio (the loop), not only libcorio_core:\n${dynamic}")
endif()
message(STATUS "${PROGRAM}: no event loop, no liburing")
