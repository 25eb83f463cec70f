import Foundation

/// The fields a ``SearchFilter`` tests, one entry per row of an in-process index, kept in
/// compact arrays so that a scan over 100,000 rows touches little memory and never a chunk.
struct FilterColumns {
    private var campaigns: [Int32] = []
    private var domains: [UInt8] = []
    private var gmOnly: [Bool] = []
    private var expires: [Double] = []
    /// Campaign ids by number; -1 is global.
    private var campaignNumbers: [String: Int32] = [:]

    /// What a row's filter fields are made of.
    struct Scope {
        var campaignID: String?
        var domain: KnowledgeDomain
        var visibility: Visibility
        var expiresAt: Date?

        init(campaignID: String?, domain: KnowledgeDomain, visibility: Visibility, expiresAt: Date?) {
            self.campaignID = campaignID
            self.domain = domain
            self.visibility = visibility
            self.expiresAt = expiresAt
        }

        init(_ chunk: KnowledgeChunk) {
            self.init(campaignID: chunk.campaignID, domain: chunk.domain, visibility: chunk.visibility, expiresAt: chunk.expiresAt)
        }
    }

    /// A filter turned into the numbers the columns hold.
    struct Compiled {
        /// -2 when the filter names no campaign or one never seen: only global rows match.
        let campaign: Int32
        /// Bit per domain; 0 admits every domain.
        let domainMask: UInt32
        let includeGM: Bool
        let now: Double
    }

    var count: Int { campaigns.count }

    mutating func append(_ scope: Scope) {
        campaigns.append(number(scope.campaignID))
        domains.append(Self.domainNumber(scope.domain))
        gmOnly.append(scope.visibility == .gm)
        expires.append(scope.expiresAt?.timeIntervalSince1970 ?? .infinity)
    }

    mutating func set(_ row: Int, _ scope: Scope) {
        campaigns[row] = number(scope.campaignID)
        domains[row] = Self.domainNumber(scope.domain)
        gmOnly[row] = scope.visibility == .gm
        expires[row] = scope.expiresAt?.timeIntervalSince1970 ?? .infinity
    }

    /// Moves the last row into `row` and drops the last (for swap-removal).
    mutating func moveLast(to row: Int) {
        let last = campaigns.count - 1
        if row != last {
            campaigns[row] = campaigns[last]
            domains[row] = domains[last]
            gmOnly[row] = gmOnly[last]
            expires[row] = expires[last]
        }
        campaigns.removeLast()
        domains.removeLast()
        gmOnly.removeLast()
        expires.removeLast()
    }

    /// Keeps only the rows for which `keep` is true, in order.
    mutating func compact(keeping keep: [Bool]) {
        var next = FilterColumns()
        next.campaignNumbers = campaignNumbers
        for row in campaigns.indices where keep[row] {
            next.campaigns.append(campaigns[row])
            next.domains.append(domains[row])
            next.gmOnly.append(gmOnly[row])
            next.expires.append(expires[row])
        }
        self = next
    }

    func compile(_ filter: SearchFilter) -> Compiled {
        var mask: UInt32 = 0
        for domain in filter.domains { mask |= 1 << UInt32(Self.domainNumber(domain)) }
        return Compiled(
            campaign: filter.campaignID.map { campaignNumbers[$0] ?? -2 } ?? -2,
            domainMask: mask, includeGM: filter.includeGM, now: filter.now.timeIntervalSince1970
        )
    }

    @inline(__always)
    func admits(_ row: Int, _ filter: Compiled) -> Bool {
        let campaign = campaigns[row]
        return (campaign == -1 || campaign == filter.campaign)
            && (filter.domainMask == 0 || filter.domainMask & (1 << UInt32(domains[row])) != 0)
            && (filter.includeGM || !gmOnly[row])
            && expires[row] > filter.now
    }

    private mutating func number(_ campaignID: String?) -> Int32 {
        guard let campaignID else { return -1 }
        if let number = campaignNumbers[campaignID] { return number }
        let number = Int32(campaignNumbers.count)
        campaignNumbers[campaignID] = number
        return number
    }

    private static func domainNumber(_ domain: KnowledgeDomain) -> UInt8 {
        UInt8(KnowledgeDomain.allCases.firstIndex(of: domain) ?? 0)
    }
}
