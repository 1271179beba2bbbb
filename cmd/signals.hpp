// cmd/signals.hpp: SIGTERM/SIGINT: the first asks for a graceful stop, the second stops at once.
#pragma once

namespace cmd {

/// Installs handlers for SIGTERM and SIGINT. The first signal calls
/// pipeline::request_stop() (the run finishes its batch in flight, records
/// `cancelled` and exits 5). A second signal exits at once with
/// `immediate_exit_code`: the open transaction dies with its connection and
/// the checkpoint, written atomically, is untouched.
void install_stop_handlers(int immediate_exit_code);

}  // namespace cmd
