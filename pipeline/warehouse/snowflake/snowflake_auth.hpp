// pipeline/warehouse/snowflake/snowflake_auth.hpp: key-pair JWT for the Snowflake SQL API (RS256).
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/core/secret.hpp"

namespace pipeline {

struct EvpPkeyDeleter {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

/// An RSA private key (at least 2048 bits) loaded from PKCS#8 PEM.
class RsaPrivateKey {
public:
    /// Parses PEM text (encrypted PKCS#8 needs `passphrase`). nullopt with
    /// `why` when it is not a PEM private key, the passphrase is missing or
    /// wrong, or the key is not RSA of at least 2048 bits. `why` never holds
    /// key material or the passphrase.
    static std::optional<RsaPrivateKey> from_pem(std::string_view pem, const Secret& passphrase,
                                                 std::string& why);

    /// "SHA256:" + base64 of SHA-256 over the DER SubjectPublicKeyInfo (what
    /// Snowflake shows as RSA_PUBLIC_KEY_FP).
    std::string public_key_fingerprint() const;
    /// RSASSA-PKCS1-v1_5 with SHA-256 over `data`; throws Error(config) on failure.
    std::string sign_rs256(std::string_view data) const;

private:
    explicit RsaPrivateKey(EvpPkeyPtr key) : key_(std::move(key)) {}
    std::shared_ptr<EVP_PKEY> key_;
};

/// Base64url without padding (RFC 7515).
std::string base64url(std::string_view bytes);
/// Standard base64 with padding.
std::string base64(std::string_view bytes);

/// The account part of the JWT claims from an account identifier: upper
/// case, region/cloud segments dropped ("xy12345.us-east-2.aws" ->
/// "XY12345"; "myorg-myaccount" -> "MYORG-MYACCOUNT"; for ".global" names the
/// text before the first '-').
std::string jwt_account_name(std::string_view account_identifier);

/// A signed token: iss = ACCOUNT.USER.SHA256:fp, sub = ACCOUNT.USER, iat,
/// exp = iat + lifetime (Snowflake honours at most one hour).
std::string make_snowflake_jwt(const RsaPrivateKey& key, std::string_view account,
                               std::string_view user, std::int64_t now_seconds,
                               std::int64_t lifetime_seconds);

/// Hands out a JWT and mints a new one before it expires: lifetime 59
/// minutes, renewed after 54 (Snowflake's own practice), or on demand after a 401.
class JwtSource {
public:
    JwtSource(RsaPrivateKey key, std::string account_identifier, std::string user);
    /// The current token, renewed if older than 54 minutes at `now_seconds`.
    const Secret& token(std::int64_t now_seconds);
    /// Forces a new token at the next token() (after a 401).
    void invalidate() noexcept { issued_at_.reset(); }
    /// "ACCOUNT.USER, key SHA256:..." as the claims name them, for error messages.
    std::string identity() const;

    static constexpr std::int64_t lifetime_seconds = 59 * 60;
    static constexpr std::int64_t renew_after_seconds = 54 * 60;

private:
    RsaPrivateKey key_;
    std::string account_;
    std::string user_;
    Secret token_;
    std::optional<std::int64_t> issued_at_;
};

}  // namespace pipeline
