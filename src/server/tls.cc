#include "server/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <string>

#include "base/assert.h"

namespace eleven::server::tls {

namespace ssl = boost::asio::ssl;

namespace {

// Sessions resumed by a client certificate's verification need a context id (OpenSSL refuses
// resumption without one when peers are verified).
constexpr std::string_view kSessionIdContext = "eleven";

Status FileError(std::string_view key, const std::string& path, const std::string& what) {
  return Status::InvalidArgument("tls." + std::string(key) + " " + path + ": " + what);
}

// A file the server cannot open is named with errno's reason, before OpenSSL's messages.
Status CheckReadable(std::string_view key, const std::string& path) {
  if (access(path.c_str(), R_OK) != 0) return FileError(key, path, std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Status MakeServerContext(const TlsConfig& config, std::unique_ptr<ssl::context>* out) {
  ELEVEN_ASSERT(config.enabled);
  ELEVEN_ASSERT(!config.cert_file.empty() && !config.key_file.empty());
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  if (ec) return Status::IOError("TLS options: " + ec.message());
  if (SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION) != 1) {
    return Status::IOError("TLS: cannot require TLS 1.2");
  }
  ELEVEN_RETURN_IF_ERROR(CheckReadable("cert_file", config.cert_file));
  context->use_certificate_chain_file(config.cert_file, ec);
  if (ec)
    return FileError("cert_file", config.cert_file, "not a PEM certificate (" + ec.message() + ")");
  ELEVEN_RETURN_IF_ERROR(CheckReadable("key_file", config.key_file));
  {
    // Read alone first, so that a file that is no key is told apart from a key that does not
    // match the certificate.
    ssl::context scratch(ssl::context::tls_server);
    scratch.use_private_key_file(config.key_file, ssl::context::pem, ec);
    if (ec)
      return FileError("key_file", config.key_file, "not a PEM private key (" + ec.message() + ")");
  }
  context->use_private_key_file(config.key_file, ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(context->native_handle()) != 1) {
    ERR_clear_error();
    return FileError("key_file", config.key_file,
                     "does not match the certificate in tls.cert_file " + config.cert_file);
  }
  if (!config.client_ca_file.empty()) {
    ELEVEN_RETURN_IF_ERROR(CheckReadable("client_ca_file", config.client_ca_file));
    context->load_verify_file(config.client_ca_file, ec);
    if (ec) {
      return FileError("client_ca_file", config.client_ca_file,
                       "no PEM CA certificate (" + ec.message() + ")");
    }
    // The CA's name goes in the certificate request, so a client picks the right certificate.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str());
    if (names == nullptr) {
      ERR_clear_error();
      return FileError("client_ca_file", config.client_ca_file, "no PEM CA certificate");
    }
    SSL_CTX_set_client_CA_list(context->native_handle(), names);  // takes ownership
    // Asked for, verified when given; a client without one may still use a Bearer key.
    context->set_verify_mode(ssl::verify_peer, ec);
    if (ec) return Status::IOError("TLS verify mode: " + ec.message());
    const auto* id = reinterpret_cast<const unsigned char*>(kSessionIdContext.data());
    if (SSL_CTX_set_session_id_context(context->native_handle(), id,
                                       static_cast<unsigned>(kSessionIdContext.size())) != 1) {
      return Status::IOError("TLS: cannot set the session id context");
    }
  }
  *out = std::move(context);
  return Status::Ok();
}

uint32_t KeyIdFromCommonName(std::string_view name) {
  if (!name.starts_with(kKeyCommonNamePrefix)) return 0;
  const std::string_view digits = name.substr(kKeyCommonNamePrefix.size());
  if (digits.empty() || digits.front() == '0') return 0;
  uint32_t id = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (error != std::errc() || end != digits.data() + digits.size()) return 0;  // overflow too
  return id;
}

uint32_t KeyIdOfPeer(SSL* ssl) {
  ELEVEN_ASSERT(ssl != nullptr);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return 0;
  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) return 0;
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  const int size = ASN1_STRING_to_UTF8(&utf8, data);
  if (size < 0) {
    ERR_clear_error();
    return 0;
  }
  const uint32_t id =
      KeyIdFromCommonName(std::string_view(reinterpret_cast<const char*>(utf8), size_t(size)));
  OPENSSL_free(utf8);
  return id;
}

}  // namespace eleven::server::tls
