import Foundation

/// The per-chunk fields a read tests inside one version's index partition, one entry per row,
/// kept in compact arrays so that a scan over 100,000 rows touches little memory and never a
/// chunk. Scope, domain and version need no column: the partition is chosen by them.
struct FilterColumns {
    private var gmOnly: [Bool] = []
    private var expires: [Double] = []
    private var created: [Double] = []
    private var pinned: [Bool] = []

    /// What a row's filter fields are made of.
    struct Scope {
        var version: KnowledgeVersionRef
        var domain: KnowledgeDomain
        var visibility: Visibility
        var expiresAt: Date?
        var createdAt: Date
        var pinned: Bool

        init(version: KnowledgeVersionRef, domain: KnowledgeDomain, visibility: Visibility, expiresAt: Date?, createdAt: Date, pinned: Bool) {
            self.version = version
            self.domain = domain
            self.visibility = visibility
            self.expiresAt = expiresAt
            self.createdAt = createdAt
            self.pinned = pinned
        }

        init(_ chunk: KnowledgeChunk) {
            self.init(version: chunk.versionRef, domain: chunk.domain, visibility: chunk.visibility, expiresAt: chunk.expiresAt, createdAt: chunk.createdAt, pinned: chunk.pinned)
        }
    }

    /// A filter turned into the numbers the columns hold, for one partition.
    struct Compiled {
        let includeGM: Bool
        let now: Double
        /// Unpinned rows created at or before this have outlived their lifetime.
        let createdAfter: Double

        init(_ filter: SearchFilter, version: KnowledgeVersionRef) {
            includeGM = filter.includeGM
            now = filter.now.timeIntervalSince1970
            createdAfter = filter.createdAfter(version)
        }
    }

    var count: Int { gmOnly.count }

    mutating func append(_ scope: Scope) {
        gmOnly.append(scope.visibility == .gm)
        expires.append(scope.expiresAt?.timeIntervalSince1970 ?? .infinity)
        created.append(scope.createdAt.timeIntervalSince1970)
        pinned.append(scope.pinned)
    }

    mutating func set(_ row: Int, _ scope: Scope) {
        gmOnly[row] = scope.visibility == .gm
        expires[row] = scope.expiresAt?.timeIntervalSince1970 ?? .infinity
        created[row] = scope.createdAt.timeIntervalSince1970
        pinned[row] = scope.pinned
    }

    /// Moves the last row into `row` and drops the last (for swap-removal).
    mutating func moveLast(to row: Int) {
        let last = gmOnly.count - 1
        if row != last {
            gmOnly[row] = gmOnly[last]
            expires[row] = expires[last]
            created[row] = created[last]
            pinned[row] = pinned[last]
        }
        gmOnly.removeLast()
        expires.removeLast()
        created.removeLast()
        pinned.removeLast()
    }

    /// Keeps only the rows for which `keep` is true, in order.
    mutating func compact(keeping keep: [Bool]) {
        var next = FilterColumns()
        for row in gmOnly.indices where keep[row] {
            next.gmOnly.append(gmOnly[row])
            next.expires.append(expires[row])
            next.created.append(created[row])
            next.pinned.append(pinned[row])
        }
        self = next
    }

    @inline(__always)
    func admits(_ row: Int, _ filter: Compiled) -> Bool {
        (filter.includeGM || !gmOnly[row])
            && expires[row] > filter.now
            && (created[row] > filter.createdAfter || pinned[row])
    }
}
