#pragma once
/// \file
/// corio: asyncio for C++20. This umbrella header brings in the whole public API.

#include "corio/cancel_scope.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/future.hpp"
#include "corio/generator.hpp"
#include "corio/join_handle.hpp"
#include "corio/sleep.hpp"
#include "corio/sync_wait.hpp"
#include "corio/task.hpp"
#include "corio/task_group.hpp"
