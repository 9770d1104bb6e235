import Foundation

/// Concurrent HTTP(S) and file:// transfers over libcurl's multi interface, as async Swift.
///
/// Timeouts, a body size limit, gzip and deflate encodings (a body whose compressed stream is cut
/// short is an error, not a shorter page), HTTP/2 where offered, TLS verification on, proxies from the
/// usual environment variables (`http_proxy`, `https_proxy`, `no_proxy`).
/// Redirects are followed here rather than inside libcurl so that the whole chain is recorded.
///
/// `addressPolicy` is checked on every connection, with the address libcurl connects to (after DNS,
/// for every hop of a redirect chain): a refused one ends the transfer with `.internalAddress`.
/// Connections are pooled per client, so one client has one policy.
///
/// `caFile` (a PEM bundle) verifies servers for every request that names no `caFile` of its own, in
/// place of the system's CAs: for sites with a private CA. Verification is never turned off.
public final class HTTPClient: Sendable {
    private let multi: CurlMulti
    public let addressPolicy: AddressPolicy
    public let caFile: String?

    public init(maxConnections: Int = 64, addressPolicy: AddressPolicy = .any, caFile: String? = nil) {
        multi = CurlMulti(maxConnections: maxConnections, addressPolicy: addressPolicy)
        self.addressPolicy = addressPolicy
        self.caFile = caFile
    }

    deinit { multi.shutdown() }

    /// Sends `request`, following up to `maxRedirects` redirects. An HTTP error status is a
    /// response, not an error; errors are for transfers that did not complete.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let started = Date()
        var url = request.url
        var current = request
        if current.caFile == nil { current.caFile = caFile }
        var redirects: [String] = []
        while true {
            let remaining = request.timeout - Date().timeIntervalSince(started)
            guard remaining > 0 else { throw TransportError(.timeout, url: url, message: "timed out after \(request.timeout)s") }
            current.timeout = remaining
            let result = await multi.perform(current, url: url)
            try Task.checkCancellation()
            if let refused = result.refusedAddress, result.code != 0 {
                throw TransportError(.internalAddress, url: url,
                                     message: "refused to connect to \(refused.address), a \(refused.kind.rawValue) address")
            }
            if result.code == 0, let failure = result.decodeFailure {
                throw TransportError(.io, url: url, message: "the \(result.header("Content-Encoding") ?? "compressed") body is \(failure)")
            }
            if result.code == 0, result.truncated {
                throw TransportError(.truncated, url: url, message: "the \(result.header("Content-Encoding") ?? "compressed") body was cut short "
                                     + "(\(result.body.count) bytes decoded before the connection closed)")
            }
            if result.code != 0, result.exceededLimit, current.keepsBodyPrefix, !(300...399).contains(result.status) {
                return response(result, url: url, redirects: redirects, started: started)  // the body cut at the limit
            }
            guard result.code == 0 else {
                let kind = CurlTransfer.errorKind(result.code, exceededLimit: result.exceededLimit)
                let message = kind == .tooLarge ? "body larger than \(request.maxBodyBytes) bytes" : result.message
                throw TransportError(kind, url: url, message: message)
            }
            if (300...399).contains(result.status), let next = result.redirectURL, result.status != 304 {
                guard redirects.count < request.maxRedirects else {
                    if request.maxRedirects == 0 { return response(result, url: url, redirects: redirects, started: started) }
                    throw TransportError(.tooManyRedirects, url: request.url,
                                         message: "more than \(request.maxRedirects) redirects: \((redirects + [url]).joined(separator: " -> "))")
                }
                redirects.append(url)
                // 303, and 301/302 after a POST, turn into a GET, as browsers do.
                if result.status == 303 || ((result.status == 301 || result.status == 302) && current.method.uppercased() == "POST") {
                    current.method = "GET"
                    current.body = nil
                }
                url = next
                continue
            }
            return response(result, url: url, redirects: redirects, started: started)
        }
    }

    private func response(_ result: CurlTransfer.CurlResult, url: String, redirects: [String], started: Date) -> HTTPResponse {
        HTTPResponse(url: url, status: result.status, headers: result.headers, body: result.body, redirects: redirects,
                     seconds: Date().timeIntervalSince(started), httpVersion: result.httpVersion)
    }
}
