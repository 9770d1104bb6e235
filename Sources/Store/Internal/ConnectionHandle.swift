extension Database {
    /// The connection's C handle, for the one other module that registers SQLite extensions on a
    /// connection this module opened (Query's lake-file virtual tables). Valid while `self` lives;
    /// never close it.
    public var connectionHandle: OpaquePointer { handle }
}
