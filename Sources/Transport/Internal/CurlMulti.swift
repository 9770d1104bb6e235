import Foundation
internal import CCurl

/// One libcurl multi handle driven by one thread: every transfer of an `HTTPClient` runs on it,
/// concurrently, without a thread per request. Other threads only enqueue work and wake it.
final class CurlMulti: @unchecked Sendable {
    /// nil when libcurl could not be loaded: every transfer then fails with `CurlGlobal.loadError`.
    private let multi: UnsafeMutableRawPointer?
    private let lock = NSLock()
    private var pending: [CurlTransfer] = []
    private var cancelled: [ObjectIdentifier] = []
    private var active: [ObjectIdentifier: CurlTransfer] = [:]
    private var errorBuffers: [ObjectIdentifier: UnsafeMutablePointer<CChar>] = [:]
    private var stopping = false
    private var cleanedUp = false
    private var thread: Thread?

    let addressPolicy: AddressPolicy

    init(maxConnections: Int, addressPolicy: AddressPolicy = .any) {
        self.addressPolicy = addressPolicy
        multi = CurlGlobal.initialised ? curl_multi_init() : nil
        guard let multi else { return }
        agentshop_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxConnections)
        agentshop_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        // The loop holds the multi strongly until `shutdown` stops it: the HTTPClient that owns it
        // may be gone by then (a short-lived client), and an unowned capture crashed on that.
        let thread = Thread { self.loop() }
        thread.name = "agentshop.curl"
        self.thread = thread
        thread.start()
    }

    /// Stops the loop; transfers still running end with a cancellation.
    func shutdown() {
        lock.lock()
        stopping = true
        // Under the lock, so that the loop cannot have cleaned up the handle in between.
        if !cleanedUp, let multi { curl_multi_wakeup(multi) }
        lock.unlock()
    }

    /// Runs one exchange (no redirects) and returns libcurl's result.
    func perform(_ request: HTTPRequest, url: String) async -> CurlTransfer.CurlResult {
        guard multi != nil else {
            return .init(code: -1, message: CurlGlobal.loadError ?? "cannot create a libcurl multi handle", status: 0, headers: [],
                         body: [], exceededLimit: false, httpVersion: "", redirectURL: nil, effectiveURL: url)
        }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        guard let transfer = CurlTransfer(request: request, url: url, errorBuffer: errorBuffer, addressPolicy: addressPolicy) else {
            errorBuffer.deallocate()
            return .init(code: -1, message: "cannot create a libcurl handle", status: 0, headers: [], body: [],
                         exceededLimit: false, httpVersion: "", redirectURL: nil, effectiveURL: url)
        }
        let id = ObjectIdentifier(transfer)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                lock.lock()
                transfer.continuation = continuation
                errorBuffers[id] = errorBuffer
                if stopping || Task.isCancelled {
                    lock.unlock()
                    finish(transfer, code: CURLE_ABORTED_BY_CALLBACK)
                    return
                }
                pending.append(transfer)
                lock.unlock()
                curl_multi_wakeup(multi)
            }
        } onCancel: {
            lock.lock()
            cancelled.append(id)
            lock.unlock()
            curl_multi_wakeup(multi)
        }
    }

    private func loop() {
        var running: Int32 = 0
        while true {
            lock.lock()
            let adding = pending
            pending.removeAll()
            let cancelling = cancelled
            cancelled.removeAll()
            let stop = stopping
            lock.unlock()

            for transfer in adding {
                active[ObjectIdentifier(transfer)] = transfer
                curl_multi_add_handle(multi, transfer.handle)
            }
            for id in cancelling {
                if let transfer = active.removeValue(forKey: id) {
                    curl_multi_remove_handle(multi, transfer.handle)
                    finish(transfer, code: CURLE_ABORTED_BY_CALLBACK)
                }
            }
            if stop {
                for transfer in active.values {
                    curl_multi_remove_handle(multi, transfer.handle)
                    finish(transfer, code: CURLE_ABORTED_BY_CALLBACK)
                }
                active.removeAll()
                lock.lock()
                curl_multi_cleanup(multi)
                cleanedUp = true
                thread = nil  // breaks the multi -> thread -> closure -> multi cycle
                lock.unlock()
                return
            }

            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                var privatePointer: UnsafeMutableRawPointer?
                agentshop_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &privatePointer)
                guard let privatePointer else { continue }
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(privatePointer).takeUnretainedValue()
                let code = message.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                active.removeValue(forKey: ObjectIdentifier(transfer))
                finish(transfer, code: code)
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private func finish(_ transfer: CurlTransfer, code: CURLcode) {
        lock.lock()
        let buffer = errorBuffers.removeValue(forKey: ObjectIdentifier(transfer))
        let continuation = transfer.continuation
        transfer.continuation = nil
        lock.unlock()
        var result = transfer.result(code: code, errorBuffer: buffer ?? UnsafeMutablePointer<CChar>.allocate(capacity: 1))
        if code == CURLE_ABORTED_BY_CALLBACK { result.message = "cancelled" }
        buffer?.deallocate()
        continuation?.resume(returning: result)
    }
}
