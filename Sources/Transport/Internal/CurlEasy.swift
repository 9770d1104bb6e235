import Foundation
internal import CCurl

/// libcurl once per process (not thread-safe to call concurrently, so a lazy static).
enum CurlGlobal {
    /// libcurl's milliseconds for a timeout in seconds. `Int(x * 1000)` traps on a huge or non-finite
    /// value, and a positive timeout under 1 ms would become 0, which libcurl reads as "no timeout":
    /// so it is clamped to 1 ms ... 24 days (libcurl's own ceiling on 32-bit longs); 0 or less stays 0.
    static func milliseconds(_ seconds: Double) -> Int {
        guard !(seconds <= 0) else { return 0 }
        guard seconds.isFinite, seconds < Double(Int32.max) / 1000 else { return Int(Int32.max) }
        return max(1, Int((seconds * 1000).rounded(.up)))
    }

    /// Why libcurl cannot be used in this process (libcurl.so.4 is missing or too old: the sentence names
    /// the Debian package to install), nil when it is loaded. libcurl is opened here, on first use, not at start.
    static let loadError: String? = agentshop_curl_load_error().map { String(cString: $0) }

    static let initialised: Bool = loadError == nil && curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
}

/// One transfer: owns its easy handle and header list, collects the response.
final class CurlTransfer {
    let handle: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    let url: String
    let maxBodyBytes: Int
    let keepsBodyPrefix: Bool
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    var status = 0
    var exceededLimit = false
    var continuation: CheckedContinuation<CurlResult, Never>?
    var cancelled = false
    let addressPolicy: AddressPolicy
    /// The internal address a connection was refused for, when the policy refused one.
    var refusedAddress: (address: String, kind: InternalAddressKind)?
    /// Set at the first body byte of a response from its Content-Encoding; nil for identity.
    private var decoder: ContentDecoder?
    private var bodyStarted = false

    struct CurlResult {
        var code: Int32
        var message: String
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        var exceededLimit: Bool
        var httpVersion: String
        var redirectURL: String?
        var effectiveURL: String
        var refusedAddress: (address: String, kind: InternalAddressKind)? = nil
        /// A gzip/deflate body whose compressed stream did not end: the connection closed early.
        var truncated = false
        /// A gzip/deflate body that is not valid compressed data.
        var decodeFailure: String? = nil

        func header(_ name: String) -> String? {
            headers.last { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
    }

    init?(request: HTTPRequest, url: String, errorBuffer: UnsafeMutablePointer<CChar>, addressPolicy: AddressPolicy = .any) {
        guard CurlGlobal.initialised, let handle = curl_easy_init() else { return nil }
        self.handle = handle
        self.url = url
        self.addressPolicy = addressPolicy
        maxBodyBytes = request.maxBodyBytes
        keepsBodyPrefix = request.keepsBodyPrefix
        set(CURLOPT_URL, url)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer))
        set(CURLOPT_PROTOCOLS_STR, "http,https,file")
        set(CURLOPT_FOLLOWLOCATION, 0)  // redirects are followed by the client, to record the chain
        // Decoded here, not by libcurl, whose decoder takes a gzip body cut short (on a connection that
        // closes instead of a Content-Length) for a complete one: only the codings we can check are asked for.
        set(CURLOPT_ACCEPT_ENCODING, "gzip, deflate")
        set(CURLOPT_HTTP_CONTENT_DECODING, 0)
        set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = request.caFile { set(CURLOPT_CAINFO, caFile) }
        set(CURLOPT_TIMEOUT_MS, CurlGlobal.milliseconds(request.timeout))
        set(CURLOPT_CONNECTTIMEOUT_MS, CurlGlobal.milliseconds(request.connectTimeout))
        set(CURLOPT_USERAGENT, request.userAgent)
        if !request.keepsBodyPrefix {
            agentshop_easy_setopt_off_t(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxBodyBytes))
        }
        switch request.method.uppercased() {
        case "GET": break
        case "HEAD": set(CURLOPT_NOBODY, 1)
        case "POST": set(CURLOPT_POST, 1)
        default: set(CURLOPT_CUSTOMREQUEST, request.method.uppercased())
        }
        if let body = request.body {
            set(CURLOPT_POSTFIELDSIZE, body.count)
            body.withUnsafeBytes { raw in
                _ = agentshop_easy_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        }
        for header in request.headers {
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        if request.body != nil && request.header("Expect") == nil {
            headerList = curl_slist_append(headerList, "Expect:")  // no 100-continue round trip
        }
        if let headerList { agentshop_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList) }

        let opaque = Unmanaged.passUnretained(self).toOpaque()
        agentshop_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, opaque)
        agentshop_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, opaque)
        agentshop_easy_setopt_pointer(handle, CURLOPT_PRIVATE, opaque)
        if addressPolicy != .any {
            agentshop_easy_setopt_pointer(handle, CURLOPT_OPENSOCKETDATA, opaque)
            agentshop_easy_setopt_opensocket_callback(handle) { user, _, address in
                guard let user, let address else { return agentshop_curl_socket_bad() }
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
                var bytes = [UInt8](repeating: 0, count: 16)
                let count = Int(agentshop_curl_sockaddr_ip(address, &bytes))
                if count > 0 {
                    let ip = Array(bytes.prefix(count))
                    if let kind = transfer.addressPolicy.refusal(of: ip, url: transfer.url) {
                        transfer.refusedAddress = (InternalAddressKind.text(ip), kind)
                        return agentshop_curl_socket_bad()
                    }
                }
                return agentshop_curl_open_socket(address)
            }
        }
        agentshop_easy_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, user in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            guard let data, n > 0 else { return n }
            return transfer.receive(UnsafeRawBufferPointer(start: data, count: n)) ? n : 0  // 0 aborts with CURLE_WRITE_ERROR
        }
        agentshop_easy_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, user in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            guard let data else { return n }
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if line.hasPrefix("HTTP/") {
                transfer.headers.removeAll()  // a new response (after 100 Continue, say)
                transfer.bodyStarted = false
                transfer.decoder = nil
            } else if let colon = line.firstIndex(of: ":") {
                transfer.headers.append((String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                                         String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
            return n
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        if let headerList { curl_slist_free_all(headerList) }
    }

    /// Appends body bytes, decoding a gzip/deflate coding; false stops the transfer (too large, or not valid).
    private func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if !bodyStarted {
            bodyStarted = true
            decoder = ContentDecoder(contentEncoding: headers.last { $0.name.lowercased() == "content-encoding" }?.value)
        }
        guard let decoder else { return append(bytes) }
        return decoder.decode(bytes) { append($0) }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if body.count + bytes.count > maxBodyBytes {
            exceededLimit = true
            if keepsBodyPrefix {
                // The request wants what fits (robots.txt reads its first 500 KiB): keep it, then stop.
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes.prefix(maxBodyBytes - body.count)))
            }
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    func result(code: CURLcode, errorBuffer: UnsafeMutablePointer<CChar>) -> CurlResult {
        var status = 0
        agentshop_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var version = 0
        agentshop_easy_getinfo_long(handle, CURLINFO_HTTP_VERSION, &version)
        var redirect: UnsafeMutablePointer<CChar>?
        agentshop_easy_getinfo_string(handle, CURLINFO_REDIRECT_URL, &redirect)
        var effective: UnsafeMutablePointer<CChar>?
        agentshop_easy_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &effective)
        let detail = String(cString: errorBuffer)
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let versionText: String
        switch Int32(version) {
        case Int32(CURL_HTTP_VERSION_1_0): versionText = "1.0"
        case Int32(CURL_HTTP_VERSION_1_1): versionText = "1.1"
        case Int32(CURL_HTTP_VERSION_2_0): versionText = "2"
        case Int32(CURL_HTTP_VERSION_3): versionText = "3"
        default: versionText = ""
        }
        return CurlResult(code: Int32(code.rawValue), message: message, status: status, headers: headers, body: body,
                          exceededLimit: exceededLimit, httpVersion: versionText,
                          redirectURL: redirect.map { String(cString: $0) }, effectiveURL: effective.map { String(cString: $0) } ?? url,
                          refusedAddress: refusedAddress, truncated: decoder.map { !$0.complete && $0.failure == nil } ?? false,
                          decodeFailure: decoder?.failure)
    }

    private func set(_ option: CURLoption, _ value: Int) { agentshop_easy_setopt_long(handle, option, value) }
    private func set(_ option: CURLoption, _ value: String) { agentshop_easy_setopt_string(handle, option, value) }
    private func set(_ option: CURLoption, _ value: UnsafeMutableRawPointer) { agentshop_easy_setopt_pointer(handle, option, value) }

    /// Maps a libcurl result code onto our error kinds.
    static func errorKind(_ code: Int32, exceededLimit: Bool) -> TransportError.Kind {
        if exceededLimit { return .tooLarge }
        switch CURLcode(rawValue: UInt32(code)) {
        case CURLE_OPERATION_TIMEDOUT: return .timeout
        case CURLE_COULDNT_CONNECT, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
             CURLE_HTTP2, CURLE_HTTP2_STREAM: return .connect
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .dns
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE: return .tls
        case CURLE_FILESIZE_EXCEEDED: return .tooLarge
        case CURLE_URL_MALFORMAT: return .invalidURL
        case CURLE_UNSUPPORTED_PROTOCOL: return .unsupported
        default: return .io
        }
    }
}
