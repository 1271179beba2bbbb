// pipeline/state/atomic_file.cpp: temp + fsync + rename + fsync(dir).
#include "pipeline/state/atomic_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "pipeline/core/error.hpp"

namespace pipeline {

namespace {

[[noreturn]] void throw_io(std::string_view what, const std::filesystem::path& path, int err) {
    throw Error(ErrorKind::io, fmt::format("{} {}: {}", what, path.string(), std::strerror(err)));
}

// Owns a file descriptor; the destructor closes it without reporting (the
// explicit close() reports), as fmt's file does.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const noexcept { return fd_; }
    int release_and_close() noexcept {
        // Don't retry close on EINTR: on Linux the descriptor is gone either way.
        const int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }

private:
    int fd_;
};

}  // namespace

void fsync_directory(const std::filesystem::path& dir) {
    Fd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) {
        throw_io("cannot open directory", dir, errno);
    }
    if (::fsync(fd.get()) != 0) {
        throw_io("cannot fsync directory", dir, errno);
    }
}

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes,
                           const std::function<void()>& before_rename) {
    const std::filesystem::path temp =
        path.parent_path() / fmt::format(".{}.tmp.{}", path.filename().string(), ::getpid());
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
        throw_io("cannot create", temp, errno);
    }
    try {
        std::size_t written = 0;
        while (written < bytes.size()) {
            const ssize_t n = ::write(fd.get(), bytes.data() + written, bytes.size() - written);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                throw_io("cannot write", temp, errno);
            }
            written += static_cast<std::size_t>(n);
        }
        if (::fsync(fd.get()) != 0) {
            throw_io("cannot fsync", temp, errno);
        }
        if (fd.release_and_close() != 0) {
            throw_io("cannot close", temp, errno);
        }
        if (before_rename) {
            before_rename();
        }
        if (::rename(temp.c_str(), path.c_str()) != 0) {
            throw_io("cannot rename into place", path, errno);
        }
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
    fsync_directory(path.parent_path());
}

void ensure_directory(const std::filesystem::path& dir, std::string_view purpose) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        throw Error(ErrorKind::io, fmt::format("cannot create the {} directory {}: {}", purpose,
                                               dir.string(), ec.message()));
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        throw_io(fmt::format("the {} directory is not writable:", purpose), dir, errno);
    }
}

std::optional<std::string> read_file_if_exists(const std::filesystem::path& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw_io("cannot read", path, errno);
    }
    std::string content;
    char buffer[8192];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_io("cannot read", path, errno);
        }
        if (n == 0) {
            break;
        }
        content.append(buffer, static_cast<std::size_t>(n));
    }
    return content;
}

}  // namespace pipeline
