// tests/unit/fail_point_test.cpp: the ORDERS_PIPELINE_FAIL_POINT grammar and the error action.
#include "pipeline/runtime/fail_point.hpp"

#include <gtest/gtest.h>

#include "pipeline/core/error.hpp"

namespace {

TEST(FailPointTest, ParsesSitesBatchesAndActions) {
    std::string why;
    auto specs = pipeline::parse_fail_points(
        "after_merge:2=kill,before_checkpoint=error,after_commit=sleep:250", why);
    ASSERT_TRUE(specs) << why;
    ASSERT_EQ(specs->size(), 3u);
    EXPECT_EQ((*specs)[0].site, pipeline::FailSite::after_merge);
    EXPECT_EQ((*specs)[0].batch, 2);
    EXPECT_EQ((*specs)[0].action, pipeline::FailAction::kill);
    EXPECT_EQ((*specs)[1].site, pipeline::FailSite::before_checkpoint);
    EXPECT_FALSE((*specs)[1].batch);
    EXPECT_EQ((*specs)[1].action, pipeline::FailAction::error);
    EXPECT_EQ((*specs)[2].action, pipeline::FailAction::sleep);
    EXPECT_EQ((*specs)[2].sleep_ms, 250);
}

TEST(FailPointTest, RejectsMalformedSpecsWithAReason) {
    for (const char* bad : {"after_merge", "nowhere=kill", "after_merge:0=kill",
                            "after_merge:x=kill", "before_checkpoint:2=kill", "after_stage=boom",
                            "after_stage=sleep:", "after_stage=kill,"}) {
        std::string why;
        EXPECT_FALSE(pipeline::parse_fail_points(bad, why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
}

TEST(FailPointTest, ErrorFiresOnlyAtItsSiteAndBatch) {
    std::string why;
    const pipeline::FailPoints points(*pipeline::parse_fail_points("after_stage:2=error", why));
    EXPECT_TRUE(points.armed());
    EXPECT_NO_THROW(points.hit(pipeline::FailSite::after_stage, 1));
    EXPECT_NO_THROW(points.hit(pipeline::FailSite::after_merge, 2));
    try {
        points.hit(pipeline::FailSite::after_stage, 2);
        FAIL() << "did not fire";
    } catch (const pipeline::Error& e) {
        EXPECT_FALSE(e.transient());
        EXPECT_NE(std::string(e.what()).find("after_stage:2"), std::string::npos);
    }
}

TEST(FailPointTest, EmptyIsInert) {
    const pipeline::FailPoints none;
    EXPECT_FALSE(none.armed());
    EXPECT_NO_THROW(none.hit(pipeline::FailSite::before_final_record));
}

}  // namespace
