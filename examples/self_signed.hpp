// self_signed.hpp: a throwaway TLS certificate for "localhost", made in memory with the OpenSSL 3
// C API, so that the TLS example and tests run without certificate files. For demos and tests
// only: a real server loads a certificate issued for its name (see tls_echo_server.cpp).
//
// The certificate names localhost (CN and subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1)
// and signs itself with a fresh P-256 key, so a client verifies it by trusting exactly it:
// ssl::context::add_certificate_authority(buffer(cert.certificate_pem)).
#ifndef HEARTBEAT_EXAMPLES_SELF_SIGNED_HPP
#define HEARTBEAT_EXAMPLES_SELF_SIGNED_HPP

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace self_signed {

struct certificate {
    std::string certificate_pem; // public: give it to clients to trust
    std::string private_key_pem; // the server's alone
};

namespace detail {

template <class T, void (*Free)(T*)>
struct deleter {
    void operator()(T* p) const noexcept { Free(p); }
};
template <class T, void (*Free)(T*)>
using owned = std::unique_ptr<T, deleter<T, Free>>;

[[noreturn]] inline void fail(const char* what) {
    char reason[256] = "unknown error";
    if (const unsigned long code = ERR_get_error())
        ERR_error_string_n(code, reason, sizeof reason);
    throw std::runtime_error(std::string("self-signed certificate: ") + what + ": " + reason);
}

inline void check(bool ok, const char* what) {
    if (!ok)
        fail(what);
}

inline std::string pem_of(const owned<BIO, BIO_free_all>& bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    check(size > 0 && data != nullptr, "BIO_get_mem_data");
    return std::string(data, static_cast<std::size_t>(size));
}

inline void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0); // issuer = subject: self-signed
    owned<X509_EXTENSION, X509_EXTENSION_free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

} // namespace detail

/// A new key and a certificate for localhost, valid from a minute ago for `validity`.
/// Throws std::runtime_error with OpenSSL's reason on failure.
inline certificate
make_localhost_certificate(std::chrono::seconds validity = std::chrono::hours(1)) {
    using namespace detail;
    owned<EVP_PKEY, EVP_PKEY_free> key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EVP_EC_gen");

    owned<X509, X509_free> cert(X509_new());
    check(cert != nullptr, "X509_new");
    check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "X509_set_version");
    // A random serial: clients that cache certificates by issuer and serial never mix two runs.
    unsigned char serial[16];
    check(RAND_bytes(serial, sizeof serial) == 1, "RAND_bytes");
    serial[0] &= 0x7f; // positive
    owned<BIGNUM, BN_free> bn(BN_bin2bn(serial, sizeof serial, nullptr));
    check(bn != nullptr &&
              BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) != nullptr,
          "serial number");
    // Valid from a minute ago: a peer whose clock is slightly behind still accepts it.
    check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60) != nullptr, "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validity.count())) !=
              nullptr,
          "notAfter");
    check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");

    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                                     0) == 1,
          "subject name");
    check(X509_set_issuer_name(cert.get(), name) == 1, "issuer name");
    // Host name verification reads subjectAltName, not CN; the IP entries let a client verify
    // "127.0.0.1" too.
    add_extension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
    check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");

    certificate result;
    owned<BIO, BIO_free_all> cert_bio(BIO_new(BIO_s_mem()));
    check(cert_bio != nullptr && PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1,
          "PEM_write_bio_X509");
    result.certificate_pem = pem_of(cert_bio);
    owned<BIO, BIO_free_all> key_bio(BIO_new(BIO_s_mem()));
    check(key_bio != nullptr && PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr,
                                                         0, nullptr, nullptr) == 1,
          "PEM_write_bio_PrivateKey");
    result.private_key_pem = pem_of(key_bio);
    return result;
}

} // namespace self_signed

#endif
