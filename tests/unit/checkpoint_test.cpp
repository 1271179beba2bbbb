// tests/unit/checkpoint_test.cpp: checkpoint JSON, atomic replace, missing and corrupt files.
#include "pipeline/state/checkpoint.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "pipeline/core/error.hpp"
#include "pipeline/state/atomic_file.hpp"

namespace {

namespace fs = std::filesystem;

const pipeline::Timestamp t_watermark{1'790'000'000'123'456};
const pipeline::Timestamp t_now{1'790'000'100'000'000};  // 2026-09-21T...

class CheckpointTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() / ("op-checkpoint-test-" + std::to_string(rd()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    static void write(const fs::path& path, const std::string& text) {
        std::ofstream(path, std::ios::binary) << text;
    }
    std::vector<std::string> files() const {
        std::vector<std::string> names;
        for (const auto& entry : fs::directory_iterator(dir_)) {
            names.push_back(entry.path().filename().string());
        }
        std::sort(names.begin(), names.end());
        return names;
    }

    fs::path dir_;
};

TEST_F(CheckpointTest, FormatParsesBack) {
    const std::string text = pipeline::format_checkpoint({t_watermark, t_now, "orders"});
    std::string why;
    auto state = pipeline::parse_checkpoint(text, why);
    ASSERT_TRUE(state) << why;
    EXPECT_EQ(state->watermark, t_watermark);
    EXPECT_EQ(state->saved_at, t_now);
    EXPECT_EQ(state->pipeline, "orders");
    EXPECT_NE(text.find("\"watermark\":\"2026-09-21T"), std::string::npos) << text;
}

TEST_F(CheckpointTest, ParseRejectsCorruptContent) {
    for (const char* text :
         {"", "not json", "[]", "{}", "{\"watermark\": 5}", "{\"watermark\": \"yesterday\"}",
          "{\"watermark\": \"2026-01-01T00:00:00\"}",  // no offset
          "{\"watermark\": \"2026-01-01T00:00:00Z\""}) {
        std::string why;
        EXPECT_FALSE(pipeline::parse_checkpoint(text, why)) << text;
        EXPECT_FALSE(why.empty());
    }
}

TEST_F(CheckpointTest, MissingFileMeansNoState) {
    pipeline::CheckpointStore store(dir_, "orders");
    auto loaded = store.load(t_now);
    EXPECT_FALSE(loaded.state);
    EXPECT_FALSE(loaded.warning);
    EXPECT_TRUE(files().empty());
}

TEST_F(CheckpointTest, SaveThenLoad) {
    pipeline::CheckpointStore store(dir_ / "nested" / "dir", "orders");
    store.save(t_watermark, t_now);
    auto loaded = store.load(t_now);
    ASSERT_TRUE(loaded.state);
    EXPECT_EQ(loaded.state->watermark, t_watermark);
}

TEST_F(CheckpointTest, SaveReplacesAtomicallyAndLeavesNoTempFiles) {
    pipeline::CheckpointStore store(dir_, "orders");
    store.save(t_watermark, t_now);
    struct stat before {};
    ASSERT_EQ(::stat(store.path().c_str(), &before), 0);
    store.save(pipeline::Timestamp{t_watermark.micros + 1}, t_now);
    struct stat after {};
    ASSERT_EQ(::stat(store.path().c_str(), &after), 0);
    // rename() installs a new inode; an in-place rewrite would keep the old one.
    EXPECT_NE(before.st_ino, after.st_ino);
    EXPECT_EQ(files(), std::vector<std::string>{"orders.checkpoint.json"});
    EXPECT_EQ(store.load(t_now).state->watermark.micros, t_watermark.micros + 1);
}

TEST_F(CheckpointTest, CorruptFileIsArchivedNeverDeleted) {
    pipeline::CheckpointStore store(dir_, "orders");
    write(store.path(), "{\"watermark\": garbage");
    auto loaded = store.load(t_now);
    EXPECT_FALSE(loaded.state);
    ASSERT_TRUE(loaded.warning);
    EXPECT_NE(loaded.warning->find("not valid JSON"), std::string::npos);
    const std::string archived = "orders.checkpoint.json.corrupt.20260921_141500";
    EXPECT_EQ(files(), std::vector<std::string>{archived});
    std::ifstream in(dir_ / archived);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, "{\"watermark\": garbage");

    // A second corrupt file in the same second does not clobber the first archive.
    write(store.path(), "{}");
    EXPECT_FALSE(store.load(t_now).state);
    EXPECT_EQ(files().size(), 2u);
}

TEST_F(CheckpointTest, WatermarkWithoutOffsetIsCorrupt) {
    pipeline::CheckpointStore store(dir_, "orders");
    write(store.path(), "{\"watermark\": \"2026-01-01T00:00:00\"}");
    auto loaded = store.load(t_now);
    EXPECT_FALSE(loaded.state);
    ASSERT_TRUE(loaded.warning);
    EXPECT_NE(loaded.warning->find("UTC offset"), std::string::npos);
}

TEST_F(CheckpointTest, UncreatableDirectoryIsAnIoError) {
    // A regular file where the directory should be: fails even for root.
    write(dir_ / "blocker", "x");
    pipeline::CheckpointStore store(dir_ / "blocker" / "sub", "orders");
    try {
        store.save(t_watermark, t_now);
        FAIL() << "save succeeded below a regular file";
    } catch (const pipeline::Error& e) {
        EXPECT_EQ(e.kind(), pipeline::ErrorKind::io);
        EXPECT_NE(std::string(e.what()).find("checkpoint directory"), std::string::npos)
            << e.what();
    }
}

TEST_F(CheckpointTest, AtomicWriteFailureKeepsTheOldFile) {
    pipeline::write_file_atomically(dir_ / "f", "old");
    // A directory in the way makes rename() fail: the old content must survive.
    EXPECT_THROW(pipeline::write_file_atomically(dir_, "new"), pipeline::Error);
    std::ifstream in(dir_ / "f");
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, "old");
}

}  // namespace
