// pipeline/runtime/stop.hpp: the graceful-stop request, set from a signal handler, read by the run.
#pragma once

namespace pipeline {

/// Asks the run to stop after the batch in flight. Async-signal-safe (a
/// lock-free atomic store), so a SIGTERM/SIGINT handler may call it.
void request_stop() noexcept;

/// True once request_stop() was called. Async-signal-safe.
bool stop_requested() noexcept;

}  // namespace pipeline
