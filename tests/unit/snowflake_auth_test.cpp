// tests/unit/snowflake_auth_test.cpp: key loading, fingerprint, JWT claims and signature.
#include "pipeline/warehouse/snowflake/snowflake_auth.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

std::string data_file(std::string_view name) {
    std::ifstream in(std::filesystem::path(ORDERS_PIPELINE_UNIT_DATA_DIR) / name);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

pipeline::RsaPrivateKey test_key() {
    std::string why;
    auto key = pipeline::RsaPrivateKey::from_pem(data_file("test_rsa_key.p8"), {}, why);
    if (!key) {
        throw std::runtime_error(why);
    }
    return *key;
}

std::string base64url_decode(std::string text) {
    for (char& c : text) {
        c = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (text.size() % 4 != 0) {
        text += '=';
    }
    std::string out(text.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    out.resize(static_cast<std::size_t>(n - std::count(text.begin(), text.end(), '=')));
    return out;
}

// Computed with the documented shell check, independent of this code:
// openssl pkey -in test_rsa_key.p8 -pubout -outform DER | openssl dgst -sha256 -binary | base64
constexpr std::string_view expected_fingerprint =
    "SHA256:vYasnFgJp3AZQ3AerDxsgCvJrrdH7J247SjAHdd9yoE=";

TEST(SnowflakeAuthTest, FingerprintMatchesTheOpensslCommandLine) {
    EXPECT_EQ(test_key().public_key_fingerprint(), expected_fingerprint);
}

TEST(SnowflakeAuthTest, EncryptedKeyNeedsTheRightPassphrase) {
    const std::string pem = data_file("test_rsa_key_encrypted.p8");
    std::string why;
    auto key = pipeline::RsaPrivateKey::from_pem(pem, pipeline::Secret("correct-horse"), why);
    ASSERT_TRUE(key) << why;
    EXPECT_EQ(key->public_key_fingerprint(), expected_fingerprint);

    EXPECT_FALSE(pipeline::RsaPrivateKey::from_pem(pem, pipeline::Secret("battery-staple"), why));
    EXPECT_NE(why.find("wrong passphrase"), std::string::npos) << why;
    EXPECT_EQ(why.find("battery-staple"), std::string::npos);
    EXPECT_FALSE(pipeline::RsaPrivateKey::from_pem(pem, {}, why));
    EXPECT_NE(why.find("PASSPHRASE is not set"), std::string::npos) << why;
}

TEST(SnowflakeAuthTest, WeakOrMalformedKeysAreRefused) {
    std::string why;
    EXPECT_FALSE(pipeline::RsaPrivateKey::from_pem(data_file("test_rsa_1024.p8"), {}, why));
    EXPECT_NE(why.find("at least 2048"), std::string::npos) << why;
    EXPECT_FALSE(pipeline::RsaPrivateKey::from_pem("not a key", {}, why));
    EXPECT_NE(why.find("not a PEM private key"), std::string::npos) << why;
    EXPECT_FALSE(pipeline::RsaPrivateKey::from_pem(data_file("test_rsa_key.pub"), {}, why));
}

TEST(SnowflakeAuthTest, AccountNameForClaims) {
    EXPECT_EQ(pipeline::jwt_account_name("myorg-myaccount"), "MYORG-MYACCOUNT");
    EXPECT_EQ(pipeline::jwt_account_name("xy12345.us-east-2.aws"), "XY12345");
    EXPECT_EQ(pipeline::jwt_account_name("myorg-myaccount.privatelink"), "MYORG-MYACCOUNT");
    EXPECT_EQ(pipeline::jwt_account_name("myorg-acct.global"), "MYORG");
}

TEST(SnowflakeAuthTest, JwtHasTheDocumentedClaimsAndAVerifiableSignature) {
    const auto key = test_key();
    const std::string token =
        pipeline::make_snowflake_jwt(key, "myorg-myaccount", "pipeline_user", 1795314647, 3540);
    const auto dot1 = token.find('.');
    const auto dot2 = token.find('.', dot1 + 1);
    ASSERT_NE(dot2, std::string::npos);
    EXPECT_EQ(token.find('='), std::string::npos) << "base64url must not be padded";
    const auto header = nlohmann::json::parse(base64url_decode(token.substr(0, dot1)));
    EXPECT_EQ(header, nlohmann::json({{"alg", "RS256"}, {"typ", "JWT"}}));
    const auto claims =
        nlohmann::json::parse(base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1)));
    EXPECT_EQ(claims["iss"], "MYORG-MYACCOUNT.PIPELINE_USER." + std::string(expected_fingerprint));
    EXPECT_EQ(claims["sub"], "MYORG-MYACCOUNT.PIPELINE_USER");
    EXPECT_EQ(claims["iat"], 1795314647);
    EXPECT_EQ(claims["exp"], 1795314647 + 3540);

    // Verify with the public key file, through OpenSSL directly.
    const std::string pub = data_file("test_rsa_key.pub");
    BIO* bio = BIO_new_mem_buf(pub.data(), static_cast<int>(pub.size()));
    EVP_PKEY* public_key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ASSERT_NE(public_key, nullptr);
    const std::string signing_input = token.substr(0, dot2);
    const std::string signature = base64url_decode(token.substr(dot2 + 1));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, public_key);
    const int ok = EVP_DigestVerify(
        ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
        reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
    std::string tampered = signing_input;
    tampered.back() ^= 1;
    const int bad = EVP_DigestVerify(
        ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
        reinterpret_cast<const unsigned char*>(tampered.data()), tampered.size());
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(public_key);
    EXPECT_EQ(ok, 1);
    EXPECT_NE(bad, 1);
}

TEST(SnowflakeAuthTest, TokenIsReusedThenRenewedBeforeExpiry) {
    pipeline::JwtSource source(test_key(), "acct", "user");
    const std::string first = source.token(1000).reveal();
    EXPECT_EQ(source.token(1000 + 53 * 60).reveal(), first);
    const std::string renewed = source.token(1000 + 54 * 60).reveal();
    EXPECT_NE(renewed, first);
    source.invalidate();
    EXPECT_NE(source.token(1000 + 54 * 60 + 1).reveal(), renewed);
}

}  // namespace
