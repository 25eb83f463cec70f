import Foundation

/// Unit vectors in one contiguous matrix with the metadata filters need, scanned exactly with
/// SIMD dot products. The in-memory store keeps its vectors here, and the SQLite store mirrors
/// its float32 blobs here at start-up (a scan of 100,000 × 256 floats takes a few milliseconds,
/// and nothing has to be read from disk per query).
///
/// Not thread-safe on its own: the owning store serialises access.
struct VectorIndex {
    let dimensions: Int
    private(set) var matrix: [Float] = []
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
        if let row = rows[id] {
            matrix.replaceSubrange(row * dimensions..<(row + 1) * dimensions, with: vector)
            filters.set(row, scope)
            return
        }
        rows[id] = ids.count
        ids.append(id)
        filters.append(scope)
        matrix.append(contentsOf: vector)
    }

    mutating func updateVector(id: String, vector: [Float]) {
        guard let row = rows[id], vector.count == dimensions else { return }
        matrix.replaceSubrange(row * dimensions..<(row + 1) * dimensions, with: vector)
    }

    /// Removes rows by moving the last row into each hole.
    mutating func remove(_ removed: Set<String>) {
        for id in removed {
            guard let row = rows.removeValue(forKey: id) else { continue }
            let last = ids.count - 1
            if row != last {
                let lastID = ids[last]
                ids[row] = lastID
                rows[lastID] = row
                for column in 0..<dimensions { matrix[row * dimensions + column] = matrix[last * dimensions + column] }
            }
            filters.moveLast(to: row)
            ids.removeLast()
            matrix.removeLast(dimensions)
        }
    }

    /// The `limit` rows most similar to `query` among those the filter admits.
    func search(_ query: [Float], filter: SearchFilter, limit: Int) -> [String] {
        guard query.count == dimensions, limit > 0 else { return [] }
        var best = TopScores(limit: limit)
        let compiled = filters.compile(filter)
        matrix.withUnsafeBufferPointer { matrix in
            query.withUnsafeBufferPointer { query in
                for row in 0..<ids.count where filters.admits(row, compiled) {
                    best.offer(Self.dot(matrix.baseAddress! + row * dimensions, query.baseAddress!, dimensions), row: row, ids: ids)
                }
            }
        }
        return best.rows.map { ids[$0] }
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
