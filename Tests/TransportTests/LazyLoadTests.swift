import CLazyLoad
import Foundation
import Testing
import Transport

/// libcurl and libpq are opened on first use through `agentshop_lazy_load`: a library that cannot be
/// loaded is a sentence naming it, its soname and the Debian package, never a crash.
@Suite struct LazyLoadTests {
    /// Calls the loader with `names`, returning its status, the resolved slots and the error text.
    static func load(_ library: String, soname: String, package: String, names: [String]) -> (Int32, [UnsafeMutableRawPointer?], String) {
        var slots = [UnsafeMutableRawPointer?](repeating: UnsafeMutableRawPointer(bitPattern: 1), count: names.count)
        var error = [CChar](repeating: 0, count: 512)
        let cNames = names.map { strdup($0) }
        defer { cNames.forEach { free($0) } }
        let status = cNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { namePointers in
            agentshop_lazy_load(library, soname, package, namePointers.baseAddress, &slots, names.count, &error, error.count)
        }
        return (status, slots, String(cString: error))
    }

    @Test func aMissingLibraryIsASentenceNamingItsSonameAndPackage() {
        let (status, _, error) = Self.load("libcurl", soname: "libagentshop-missing.so.9", package: "libcurl4",
                                           names: ["curl_easy_init"])
        #expect(status == -1)
        #expect(error.hasPrefix("libcurl could not be loaded (libagentshop-missing.so.9)"), "\(error)")
        #expect(error.contains("install the Debian package libcurl4"), "\(error)")
    }

    @Test func aLibraryLackingAFunctionNamesTheFunctionAndResolvesNothing() {
        let (status, slots, error) = Self.load("zlib", soname: "libz.so.1", package: "zlib1g",
                                               names: ["zlibVersion", "agentshop_no_such_function"])
        #expect(status == -1)
        #expect(error.contains("lacks the function agentshop_no_such_function"), "\(error)")
        #expect(error.contains("zlib1g"), "\(error)")
        #expect(slots.allSatisfy { $0 == nil })
    }

    @Test func aPresentLibraryResolvesEveryFunction() {
        let (status, slots, error) = Self.load("zlib", soname: "libz.so.1", package: "zlib1g", names: ["zlibVersion", "crc32"])
        #expect(status == 0)
        #expect(error.isEmpty)
        #expect(slots.allSatisfy { $0 != nil && $0 != UnsafeMutableRawPointer(bitPattern: 1) })
    }

    @Test func libcurlLoadsOnFirstUse() {
        #expect(TransportLibrary.libcurlLoadError == nil)
        #expect(TransportLibrary.libcurlVersion.first?.isNumber == true, "\(TransportLibrary.libcurlVersion)")
    }
}
