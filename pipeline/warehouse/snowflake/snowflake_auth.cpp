// pipeline/warehouse/snowflake/snowflake_auth.cpp: PEM loading, SPKI fingerprint, RS256 signing,
// JWT assembly.
#include "pipeline/warehouse/snowflake/snowflake_auth.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "pipeline/core/error.hpp"
#include "pipeline/core/unicode.hpp"

namespace pipeline {

namespace {

struct BioDeleter {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

// OpenSSL's reason for the last failure, without key material.
std::string openssl_reason() {
    const unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    if (code == 0) {
        return "unknown OpenSSL error";
    }
    const char* reason = ERR_reason_error_string(code);
    return reason != nullptr ? reason : "unknown OpenSSL error";
}

// PEM password callback: hands OpenSSL the passphrase (or nothing).
int passphrase_callback(char* buffer, int size, int /*rwflag*/, void* user) {
    const auto* passphrase = static_cast<const Secret*>(user);
    if (passphrase == nullptr || passphrase->empty()) {
        return -1;  // encrypted key without a passphrase
    }
    const std::string& text = passphrase->reveal();
    if (text.size() > static_cast<std::size_t>(size)) {
        return -1;
    }
    std::copy(text.begin(), text.end(), buffer);
    return static_cast<int>(text.size());
}

std::string der_public_key(EVP_PKEY* key) {
    unsigned char* der = nullptr;
    const int length = i2d_PUBKEY(key, &der);
    if (length <= 0) {
        throw Error(ErrorKind::config, "cannot encode the public key: " + openssl_reason());
    }
    std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
    return out;
}

}  // namespace

std::optional<RsaPrivateKey> RsaPrivateKey::from_pem(std::string_view pem, const Secret& passphrase,
                                                     std::string& why) {
    ERR_clear_error();
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) {
        why = "out of memory";
        return std::nullopt;
    }
    const bool encrypted = pem.find("ENCRYPTED") != std::string_view::npos;
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_callback,
                                           const_cast<Secret*>(&passphrase)));
    if (!key) {
        const std::string reason = openssl_reason();
        if (encrypted && passphrase.empty()) {
            why =
                "the key is encrypted but ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE is "
                "not set";
        } else if (encrypted) {
            why = fmt::format("cannot decrypt the key: wrong passphrase? ({})", reason);
        } else {
            why = fmt::format(
                "not a PEM private key ({}); expected PKCS#8 "
                "(-----BEGIN PRIVATE KEY----- or -----BEGIN ENCRYPTED PRIVATE "
                "KEY-----)",
                reason);
        }
        return std::nullopt;
    }
    if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
        why = "the key is not an RSA key (Snowflake key-pair auth here uses RS256)";
        return std::nullopt;
    }
    if (EVP_PKEY_bits(key.get()) < 2048) {
        why = fmt::format("the RSA key has {} bits; Snowflake requires at least 2048",
                          EVP_PKEY_bits(key.get()));
        return std::nullopt;
    }
    return RsaPrivateKey(std::move(key));
}

std::string RsaPrivateKey::public_key_fingerprint() const {
    const std::string der = der_public_key(key_.get());
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(der.data()), der.size(), digest);
    return "SHA256:" +
           base64(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string RsaPrivateKey::sign_rs256(std::string_view data) const {
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    std::size_t length = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &length,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
        throw Error(ErrorKind::config, "cannot sign the JWT: " + openssl_reason());
    }
    std::string signature(length, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
        throw Error(ErrorKind::config, "cannot sign the JWT: " + openssl_reason());
    }
    signature.resize(length);
    return signature;
}

std::string base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string base64url(std::string_view bytes) {
    std::string out = base64(bytes);
    while (!out.empty() && out.back() == '=') {
        out.pop_back();
    }
    for (char& c : out) {
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return out;
}

std::string jwt_account_name(std::string_view account_identifier) {
    std::string_view account = account_identifier;
    if (account.find(".global") == std::string_view::npos) {
        account = account.substr(0, account.find('.'));
    } else {
        account = account.substr(0, account.find('-'));
    }
    return ascii_upper(account);
}

std::string make_snowflake_jwt(const RsaPrivateKey& key, std::string_view account,
                               std::string_view user, std::int64_t now_seconds,
                               std::int64_t lifetime_seconds) {
    const std::string subject = fmt::format("{}.{}", jwt_account_name(account), ascii_upper(user));
    nlohmann::ordered_json claims;
    claims["iss"] = fmt::format("{}.{}", subject, key.public_key_fingerprint());
    claims["sub"] = subject;
    claims["iat"] = now_seconds;
    claims["exp"] = now_seconds + lifetime_seconds;
    const std::string signing_input =
        base64url(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url(claims.dump());
    return signing_input + "." + base64url(key.sign_rs256(signing_input));
}

JwtSource::JwtSource(RsaPrivateKey key, std::string account_identifier, std::string user)
    : key_(std::move(key)), account_(std::move(account_identifier)), user_(std::move(user)) {}

const Secret& JwtSource::token(std::int64_t now_seconds) {
    if (!issued_at_ || now_seconds - *issued_at_ >= renew_after_seconds ||
        now_seconds < *issued_at_) {
        token_ = Secret(make_snowflake_jwt(key_, account_, user_, now_seconds, lifetime_seconds));
        issued_at_ = now_seconds;
    }
    return token_;
}

std::string JwtSource::identity() const {
    return fmt::format("{}.{}, key {}", jwt_account_name(account_), ascii_upper(user_),
                       key_.public_key_fingerprint());
}

}  // namespace pipeline
