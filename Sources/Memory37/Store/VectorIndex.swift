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
    // The filter fields, by row, kept compact so the scan touches little memory.
    private var campaigns: [Int32] = []
    private var domains: [UInt8] = []
    private var gmOnly: [Bool] = []
    private var expires: [Double] = []
    /// Campaign ids by number; -1 is global.
    private var campaignNumbers: [String: Int32] = [:]

    init(dimensions: Int) {
        self.dimensions = dimensions
    }

    var count: Int { ids.count }

    mutating func upsert(_ chunk: KnowledgeChunk, vector: [Float]) {
        precondition(vector.count == dimensions, "vector length \(vector.count) ≠ \(dimensions)")
        var campaign: Int32 = -1
        if let id = chunk.campaignID {
            if let number = campaignNumbers[id] {
                campaign = number
            } else {
                campaign = Int32(campaignNumbers.count)
                campaignNumbers[id] = campaign
            }
        }
        let domain = UInt8(KnowledgeDomain.allCases.firstIndex(of: chunk.domain) ?? 0)
        let expiry = chunk.expiresAt?.timeIntervalSince1970 ?? .infinity
        if let row = rows[chunk.id] {
            matrix.replaceSubrange(row * dimensions..<(row + 1) * dimensions, with: vector)
            campaigns[row] = campaign
            domains[row] = domain
            gmOnly[row] = chunk.visibility == .gm
            expires[row] = expiry
            return
        }
        rows[chunk.id] = ids.count
        ids.append(chunk.id)
        campaigns.append(campaign)
        domains.append(domain)
        gmOnly.append(chunk.visibility == .gm)
        expires.append(expiry)
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
                campaigns[row] = campaigns[last]
                domains[row] = domains[last]
                gmOnly[row] = gmOnly[last]
                expires[row] = expires[last]
                rows[lastID] = row
                for column in 0..<dimensions { matrix[row * dimensions + column] = matrix[last * dimensions + column] }
            }
            ids.removeLast()
            campaigns.removeLast()
            domains.removeLast()
            gmOnly.removeLast()
            expires.removeLast()
            matrix.removeLast(dimensions)
        }
    }

    /// The `limit` rows most similar to `query` among those the filter admits.
    func search(_ query: [Float], filter: SearchFilter, limit: Int) -> [String] {
        guard query.count == dimensions, limit > 0 else { return [] }
        var best: [(score: Float, row: Int)] = []
        best.reserveCapacity(limit + 1)
        var threshold = -Float.infinity
        // A campaign never seen matches only global rows.
        let campaign = filter.campaignID.map { campaignNumbers[$0] ?? -2 } ?? -2
        var domainMask: UInt32 = 0
        for domain in filter.domains { domainMask |= 1 << UInt32(KnowledgeDomain.allCases.firstIndex(of: domain) ?? 0) }
        let now = filter.now.timeIntervalSince1970
        let includeGM = filter.includeGM
        matrix.withUnsafeBufferPointer { matrix in
            query.withUnsafeBufferPointer { query in
                for row in 0..<ids.count {
                    guard campaigns[row] == -1 || campaigns[row] == campaign else { continue }
                    guard domainMask == 0 || domainMask & (1 << UInt32(domains[row])) != 0 else { continue }
                    guard includeGM || !gmOnly[row], expires[row] > now else { continue }
                    let score = Self.dot(matrix.baseAddress! + row * dimensions, query.baseAddress!, dimensions)
                    guard best.count < limit || score > threshold else { continue }
                    let position = best.firstIndex { $0.score < score } ?? best.count
                    best.insert((score, row), at: position)
                    if best.count > limit { best.removeLast() }
                    if best.count == limit { threshold = best[limit - 1].score }
                }
            }
        }
        return best.map { ids[$0.row] }
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
