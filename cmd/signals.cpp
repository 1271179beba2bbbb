// cmd/signals.cpp: async-signal-safe handlers (atomic flag, write(2), _exit(2)).
#include "cmd/signals.hpp"

#include <unistd.h>

#include <csignal>
#include <cstring>

#include "pipeline/runtime/stop.hpp"

namespace cmd {

namespace {

volatile std::sig_atomic_t exit_code_on_second_signal = 1;

void write_stderr(const char* text) {
    // Best effort: nothing useful can be done in a handler if stderr is gone.
    const ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
    static_cast<void>(ignored);
}

extern "C" void on_stop_signal(int /*signal*/) {
    if (pipeline::stop_requested()) {
        write_stderr(
            "{\"level\":\"warning\",\"event\":\"stop_now\",\"msg\":\"second signal: stopping at "
            "once; the batch in flight is rolled back and the checkpoint is unchanged\"}\n");
        ::_exit(exit_code_on_second_signal);
    }
    pipeline::request_stop();
    write_stderr(
        "{\"level\":\"warning\",\"event\":\"stop_requested\",\"msg\":\"signal received: finishing "
        "the batch in flight, then stopping (send it again to stop at once)\"}\n");
}

}  // namespace

void install_stop_handlers(int immediate_exit_code) {
    exit_code_on_second_signal = immediate_exit_code;
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // libpq's reads and writes carry on after the handler
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
}

}  // namespace cmd
