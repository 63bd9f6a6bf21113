// self_signed.hpp: a throwaway TLS certificate for "localhost", made in memory with the OpenSSL 3
// C API, so that the TLS example and tests run without certificate files. For demos and tests
// only: a real server loads a certificate issued for its name (see tls_echo_server.cpp).
//
// The certificate names localhost (CN and subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1)
// and signs itself with a fresh P-256 key, so a client verifies it by trusting exactly it:
// ssl::context::add_certificate_authority(buffer(cert.certificate_pem)). A failure comes back as
// a message, not an exception, so that programs built without exceptions can use it too.
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
#include <string>
#include <utility>

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

// The PEM text a memory BIO holds; false when it holds none.
inline bool pem_of(BIO* bio, std::string& pem) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    if (size <= 0 || data == nullptr)
        return false;
    pem.assign(data, static_cast<std::size_t>(size));
    return true;
}

// Returns the step that failed, or nullptr when none did.
inline const char* add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0); // issuer = subject: self-signed
    owned<X509_EXTENSION, X509_EXTENSION_free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (ext == nullptr)
        return "X509V3_EXT_conf_nid";
    if (X509_add_ext(cert, ext.get(), -1) != 1)
        return "X509_add_ext";
    return nullptr;
}

// Makes `out`. Returns the step that failed, or nullptr when none did.
inline const char* make(certificate& out, std::chrono::seconds validity) {
    owned<EVP_PKEY, EVP_PKEY_free> key(EVP_EC_gen("P-256"));
    if (key == nullptr)
        return "EVP_EC_gen";

    owned<X509, X509_free> cert(X509_new());
    if (cert == nullptr)
        return "X509_new";
    if (X509_set_version(cert.get(), X509_VERSION_3) != 1)
        return "X509_set_version";
    // A random serial: clients that cache certificates by issuer and serial never mix two runs.
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1)
        return "RAND_bytes";
    serial[0] &= 0x7f; // positive
    owned<BIGNUM, BN_free> bn(BN_bin2bn(serial, sizeof serial, nullptr));
    if (bn == nullptr || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr)
        return "serial number";
    // Valid from a minute ago: a peer whose clock is slightly behind still accepts it.
    if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60) == nullptr)
        return "notBefore";
    if (X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validity.count())) ==
        nullptr)
        return "notAfter";
    if (X509_set_pubkey(cert.get(), key.get()) != 1)
        return "X509_set_pubkey";

    X509_NAME* name = X509_get_subject_name(cert.get());
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                                   0) != 1)
        return "subject name";
    if (X509_set_issuer_name(cert.get(), name) != 1)
        return "issuer name";
    // Host name verification reads subjectAltName, not CN; the IP entries let a client verify
    // "127.0.0.1" too.
    const std::pair<int, const char*> extensions[] = {
        {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "serverAuth"}};
    for (const auto& [nid, value] : extensions)
        if (const char* step = add_extension(cert.get(), nid, value))
            return step;
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
        return "X509_sign";

    owned<BIO, BIO_free_all> cert_bio(BIO_new(BIO_s_mem()));
    if (cert_bio == nullptr || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1)
        return "PEM_write_bio_X509";
    if (!pem_of(cert_bio.get(), out.certificate_pem))
        return "BIO_get_mem_data";
    owned<BIO, BIO_free_all> key_bio(BIO_new(BIO_s_mem()));
    if (key_bio == nullptr || PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr,
                                                       0, nullptr, nullptr) != 1)
        return "PEM_write_bio_PrivateKey";
    if (!pem_of(key_bio.get(), out.private_key_pem))
        return "BIO_get_mem_data";
    return nullptr;
}

} // namespace detail

/// A new key and a certificate for localhost, valid from a minute ago for `validity`. On failure,
/// an empty certificate, and `error` says what failed with OpenSSL's reason
/// ("self-signed certificate: X509_sign: ..."); on success, `error` is empty.
inline certificate
make_localhost_certificate(std::string& error,
                           std::chrono::seconds validity = std::chrono::hours(1)) {
    certificate result;
    error.clear();
    if (const char* step = detail::make(result, validity)) {
        char reason[256] = "unknown error";
        if (const unsigned long code = ERR_get_error())
            ERR_error_string_n(code, reason, sizeof reason);
        error = std::string("self-signed certificate: ") + step + ": " + reason;
        return {};
    }
    return result;
}

} // namespace self_signed

#endif
