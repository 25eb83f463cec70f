import Foundation
import VectorKernels

/// Unit vectors in one contiguous matrix with the metadata filters need. The in-memory store
/// keeps its vectors here, and the SQLite and PostgreSQL stores mirror theirs here, so nothing
/// is read from disk or the network per query.
///
/// A search scans an int8 copy of the matrix (each row scaled to ±127 by its largest
/// component; `rpgbot_int8_dots`, AVX2 where the processor has it) and re-ranks the best
/// ``rerankDepth(_:)`` rows — over every index a read scans, see `SearchIndexes` — by their
/// exact float32 dot products. The float32 scan of 100,000 × 256 dimensions is bound by memory
/// bandwidth at ~3 ms on this class of machine; the int8 scan reads a quarter of the bytes.
/// Rounding can only reorder rows whose scores differ by less than the quantisation error, and
/// those are re-ranked exactly unless more than the re-rank depth of them tie for the last
/// places.
///
/// Not thread-safe on its own: the owning store serialises access.
struct VectorIndex {
    let dimensions: Int
    private(set) var matrix: [Float] = []
    /// `matrix` rounded to int8, row by row, and each row's scale back to floats.
    private var quantized: [Int8] = []
    private var scales: [Float] = []
    private(set) var ids: [String] = []
    private(set) var rows: [String: Int] = [:]
    private var filters = FilterColumns()

    init(dimensions: Int) {
        self.dimensions = dimensions
    }

    var count: Int { ids.count }

    mutating func upsert(_ chunk: KnowledgeChunk, vector: [Float]) {
        upsert(id: chunk.id, scope: FilterColumns.Scope(chunk), vector: vector)
    }

    mutating func upsert(id: String, scope: FilterColumns.Scope, vector: [Float]) {
        precondition(vector.count == dimensions, "vector length \(vector.count) ≠ \(dimensions)")
        let (bytes, scale) = Self.quantize(vector)
        if let row = rows[id] {
            matrix.replaceSubrange(row * dimensions..<(row + 1) * dimensions, with: vector)
            quantized.replaceSubrange(row * dimensions..<(row + 1) * dimensions, with: bytes)
            scales[row] = scale
            filters.set(row, scope)
            return
        }
        rows[id] = ids.count
        ids.append(id)
        filters.append(scope)
        matrix.append(contentsOf: vector)
        quantized.append(contentsOf: bytes)
        scales.append(scale)
    }

    /// The exact vector of a row.
    func vector(id: String) -> [Float]? {
        rows[id].map { Array(matrix[$0 * dimensions..<($0 + 1) * dimensions]) }
    }

    mutating func updateVector(id: String, vector: [Float]) {
        guard let row = rows[id], vector.count == dimensions else { return }
        let (bytes, scale) = Self.quantize(vector)
        matrix.replaceSubrange(row * dimensions..<(row + 1) * dimensions, with: vector)
        quantized.replaceSubrange(row * dimensions..<(row + 1) * dimensions, with: bytes)
        scales[row] = scale
    }

    /// The vector as int8 values of ±127 at most, and the factor that maps them back.
    static func quantize(_ vector: [Float]) -> (bytes: [Int8], scale: Float) {
        let largest = vector.reduce(Float(0)) { max($0, $1.isFinite ? abs($1) : 0) }
        guard largest > 0 else { return ([Int8](repeating: 0, count: vector.count), 0) }
        let scale = largest / 127
        return (vector.map { $0.isFinite ? Int8(($0 / scale).rounded()) : 0 }, scale)
    }

    /// Rows re-ranked exactly for a search of `limit` results.
    static func rerankDepth(_ limit: Int) -> Int { max(limit * 4, limit + 32) }

    /// Removes rows by moving the last row into each hole.
    mutating func remove(_ removed: Set<String>) {
        for id in removed {
            guard let row = rows.removeValue(forKey: id) else { continue }
            let last = ids.count - 1
            if row != last {
                let lastID = ids[last]
                ids[row] = lastID
                rows[lastID] = row
                for column in 0..<dimensions {
                    matrix[row * dimensions + column] = matrix[last * dimensions + column]
                    quantized[row * dimensions + column] = quantized[last * dimensions + column]
                }
                scales[row] = scales[last]
            }
            filters.moveLast(to: row)
            ids.removeLast()
            matrix.removeLast(dimensions)
            quantized.removeLast(dimensions)
            scales.removeLast()
        }
    }

    /// A query quantised once for every index a read scans.
    struct Query {
        let exact: [Float]
        let lanes: [Int16]

        init(_ vector: [Float]) {
            exact = vector
            lanes = VectorIndex.quantize(vector).bytes.map(Int16.init)
        }
    }

    /// A row found by the int8 scan: its approximate score, the index it is in (a read's own
    /// numbering of the indexes it scans) and its row there.
    typealias Candidate = (score: Float, index: Int, row: Int)

    /// Whether candidate `a` ranks below `b`; ties go to the earlier index and row, which keeps
    /// the candidate set independent of the order rows are offered in.
    @inline(__always)
    static func worse(_ a: Candidate, _ b: Candidate) -> Bool {
        a.score < b.score || (a.score == b.score && (a.index > b.index || (a.index == b.index && a.row > b.row)))
    }

    /// Scans the int8 matrix and offers every row the filter admits to `candidates`, tagged
    /// with `index`. Several indexes offer to one candidate set, so a read over many version
    /// partitions re-ranks the same number of rows as a read over one.
    func offerCandidates(_ query: Query, filter compiled: FilterColumns.Compiled, index: Int, to candidates: inout BoundedHeap<Candidate>) {
        guard query.exact.count == dimensions, !ids.isEmpty else { return }
        let approximate = [Int32](unsafeUninitializedCapacity: ids.count) { buffer, initialized in
            quantized.withUnsafeBufferPointer { matrix in
                query.lanes.withUnsafeBufferPointer { lanes in
                    rpgbot_int8_dots(matrix.baseAddress!, ids.count, dimensions, lanes.baseAddress!, buffer.baseAddress!)
                }
            }
            initialized = ids.count
        }
        for row in 0..<ids.count where filters.admits(row, compiled) {
            candidates.offer((Float(approximate[row]) * scales[row], index, row), worse: Self.worse)
        }
    }

    /// The exact float32 similarity of a row to the query.
    func exactScore(row: Int, _ query: Query) -> Float {
        matrix.withUnsafeBufferPointer { matrix in
            query.exact.withUnsafeBufferPointer { query in
                Self.dot(matrix.baseAddress! + row * dimensions, query.baseAddress!, dimensions)
            }
        }
    }

    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var sum = SIMD16<Float>()
        var index = 0
        while index + 16 <= count {
            let left = UnsafeRawPointer(a + index).loadUnaligned(as: SIMD16<Float>.self)
            let right = UnsafeRawPointer(b + index).loadUnaligned(as: SIMD16<Float>.self)
            sum += left * right
            index += 16
        }
        var total = sum.sum()
        while index < count {
            total += a[index] * b[index]
            index += 1
        }
        return total
    }
}
