import CLazyLoad
import Foundation
import Testing
import Transport

/// libcurl, libpq, libcrypto and libxml2 are opened on first use through `agentshop_lazy_load`: a library that cannot be
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

    /// Each loader's library, Debian package and one function it resolves (CCurl, CLibPQ, COpenSSL, CXML2).
    @Test(arguments: [("libcurl", "libcurl4", "curl_easy_init"), ("libpq", "libpq5", "PQlibVersion"),
                      ("libcrypto", "libssl3", "EVP_MD_fetch"), ("libxml2", "libxml2", "xmlFree")])
    func aMissingLibraryIsASentenceNamingItsSonameAndPackage(library: String, package: String, function: String) {
        let (status, slots, error) = Self.load(library, soname: "libagentshop-missing.so.9", package: package, names: [function])
        #expect(status == -1)
        #expect(error.hasPrefix("\(library) could not be loaded (libagentshop-missing.so.9)"), "\(error)")
        #expect(error.contains("install the Debian package \(package) (apt-get install \(package))"), "\(error)")
        #expect(slots.allSatisfy { $0 == nil || $0 == UnsafeMutableRawPointer(bitPattern: 1) })
    }

    /// libxml2's `xmlFree` is a variable holding a function pointer, not a function: dlsym gives the variable's
    /// address, which CXML2's loader reads at every call (xmlMemSetup rewrites it).
    @Test func libxml2ResolvesItsFunctionsAndTheXmlFreeVariable() {
        let (status, slots, error) = Self.load("libxml2", soname: "libxml2.so.2", package: "libxml2",
                                               names: ["xmlMemSetup", "xmlFree", "__xmlParserVersion"])
        #expect(status == 0, "\(error)")
        #expect(slots.allSatisfy { $0 != nil && $0 != UnsafeMutableRawPointer(bitPattern: 1) })
        // The variable holds libxml2's current free function: never null once the library is loaded.
        #expect(slots[1]?.load(as: UnsafeRawPointer?.self) != nil)
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
