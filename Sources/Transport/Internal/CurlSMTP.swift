import Foundation
internal import CCurl

/// One SMTP submission over a libcurl easy handle (blocking: run it off the cooperative pool).
final class CurlSMTPTransfer {
    private let handle: UnsafeMutableRawPointer
    private var recipients: UnsafeMutablePointer<curl_slist>?
    private let payload: [UInt8]
    private var offset = 0
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init?(url: String, configuration: SMTPConfiguration, from: String, to: [String], payload: [UInt8]) {
        guard CurlGlobal.initialised, let handle = curl_easy_init() else { return nil }
        self.handle = handle
        self.payload = payload
        errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        agentshop_easy_setopt_string(handle, CURLOPT_URL, url)
        agentshop_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        agentshop_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer))
        agentshop_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        agentshop_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, CurlGlobal.milliseconds(configuration.timeout))
        agentshop_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, CurlGlobal.milliseconds(min(configuration.timeout, 15)))
        agentshop_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        agentshop_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = configuration.caFile { agentshop_easy_setopt_string(handle, CURLOPT_CAINFO, caFile) }
        switch configuration.security {
        // STARTTLS, and the transfer fails rather than falling back to plain text.
        case .startTLS: agentshop_easy_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue))
        case .implicitTLS, .none: break
        }
        if let user = configuration.username {
            agentshop_easy_setopt_string(handle, CURLOPT_USERNAME, user)
            agentshop_easy_setopt_string(handle, CURLOPT_PASSWORD, configuration.password?.value ?? "")
        }
        agentshop_easy_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(from)>")
        for address in to { recipients = curl_slist_append(recipients, "<\(address)>") }
        if let recipients { agentshop_easy_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipients) }
        agentshop_easy_setopt_long(handle, CURLOPT_UPLOAD, 1)
        agentshop_easy_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(payload.count))
        agentshop_easy_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(self).toOpaque())
        agentshop_easy_setopt_read_callback(handle) { buffer, size, count, user in
            let transfer = Unmanaged<CurlSMTPTransfer>.fromOpaque(user!).takeUnretainedValue()
            let n = min(size * count, transfer.payload.count - transfer.offset)
            guard n > 0, let buffer else { return 0 }
            transfer.payload.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + transfer.offset, byteCount: n)
            }
            transfer.offset += n
            return n
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        if let recipients { curl_slist_free_all(recipients) }
        errorBuffer.deallocate()
    }

    /// Runs the exchange; nil on success, else (error kind, message).
    func perform() -> (TransportError.Kind, String)? {
        let code = curl_easy_perform(handle)
        guard code != CURLE_OK else { return nil }
        let detail = String(cString: errorBuffer)
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let kind: TransportError.Kind
        switch code {
        case CURLE_LOGIN_DENIED, CURLE_USE_SSL_FAILED: kind = code == CURLE_USE_SSL_FAILED ? .tls : .io
        default: kind = CurlTransfer.errorKind(Int32(code.rawValue), exceededLimit: false)
        }
        return (kind, message)
    }
}

/// The libcurl this program runs with (for `agentshop doctor`).
enum CurlVersion {
    /// The version of the headers built against (does not load libcurl).
    static var built: String { LIBCURL_VERSION }
    static var text: String {
        guard let info = agentshop_curl_version_info(), let version = info.pointee.version else { return CurlGlobal.loadError ?? "unknown" }
        var text = String(cString: version)
        if let ssl = info.pointee.ssl_version { text += " (" + String(cString: ssl) + ")" }
        return text
    }
}
