/// The two in-process indexes of the SQLite store, changed together.
struct SearchIndexes {
    var text = TextIndex()
    var vectors: VectorIndex

    mutating func remove(_ ids: Set<String>) {
        text.remove(ids)
        vectors.remove(ids)
    }
}
