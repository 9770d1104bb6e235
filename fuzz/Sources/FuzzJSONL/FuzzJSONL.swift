import CFuzzDriver
import FuzzTargets

/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func oneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.jsonl(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// The executable's entry point (SwiftPM links `main` to `<Target>_main`): libFuzzer's driver.
@_cdecl("FuzzJSONL_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    agentshop_fuzz_main(argc, argv, oneInput)
}
