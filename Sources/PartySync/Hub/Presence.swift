import JSONValues
import Foundation
import ServiceKit

/// Who is in a campaign: members keyed by user (`sub`), each with their connections, role and
/// an optional state (`{"status":"typing"}`). Two tabs of one user are one member.
struct PresenceRoster {
    struct Member: Equatable {
        var role: Role
        var connections: Set<String>
        var state: JSONValue?
        /// When the last connection closed; the member leaves after the grace period.
        var leavingSince: ContinuousClock.Instant?

        var json: String {
            var text = #"{"role":""# + role.rawValue + #"","conns":["# + connections.sorted().map(JSONValue.quoted).joined(separator: ",") + "]"
            if let state { text += #","state":"# + state.canonicalText }
            return text + "}"
        }
    }

    private(set) var members: [String: Member] = [:]
    private(set) var revision = 0

    var snapshot: PresenceSnapshot {
        // Members within their grace period are still members: no leave has been announced.
        PresenceSnapshot(revision: revision, members: members)
    }

    /// A connection joins. Returns the diff to broadcast, or nil when the user was already
    /// present (another tab, or a reconnect within the grace period).
    mutating func join(user: String, role: Role, connection: String) -> String? {
        if var member = members[user] {
            member.connections.insert(connection)
            member.leavingSince = nil
            let changed = member.role != role
            member.role = role
            members[user] = member
            guard changed else { return nil }
            revision += 1
            return diff(joins: [user: member], leaves: [:])
        }
        let member = Member(role: role, connections: [connection], state: nil, leavingSince: nil)
        members[user] = member
        revision += 1
        return diff(joins: [user: member], leaves: [:])
    }

    /// A connection closes; the member starts leaving when it was their last one.
    mutating func disconnect(user: String, connection: String, now: ContinuousClock.Instant) {
        guard var member = members[user] else { return }
        member.connections.remove(connection)
        if member.connections.isEmpty {
            member.leavingSince = now
        }
        members[user] = member
    }

    /// Sets a member's state. Returns the diff to broadcast.
    mutating func setState(user: String, state: JSONValue) -> String? {
        guard var member = members[user], member.state != state else { return nil }
        member.state = state
        members[user] = member
        revision += 1
        return diff(joins: [user: member], leaves: [:])
    }

    /// Members whose grace period ran out leave. Returns the diff to broadcast, if any.
    mutating func expire(now: ContinuousClock.Instant, grace: Duration) -> String? {
        var leaves: [String: Member] = [:]
        for (user, member) in members {
            if let since = member.leavingSince, member.connections.isEmpty, now - since >= grace {
                leaves[user] = member
            }
        }
        guard !leaves.isEmpty else { return nil }
        for user in leaves.keys { members.removeValue(forKey: user) }
        revision += 1
        return diff(joins: [:], leaves: leaves)
    }

    var isEmpty: Bool { members.isEmpty }

    private func diff(joins: [String: Member], leaves: [String: Member]) -> String {
        #"{"t":"presence_diff","rev":"# + String(revision) + #","joins":"# + Self.object(joins) + #","leaves":"# + Self.object(leaves) + "}"
    }

    static func object(_ members: [String: Member]) -> String {
        "{" + members.keys.sorted().map { JSONValue.quoted($0) + ":" + members[$0]!.json }.joined(separator: ",") + "}"
    }
}

/// A presence snapshot for `welcome` and `presence` frames.
struct PresenceSnapshot {
    let revision: Int
    let members: [String: PresenceRoster.Member]

    var json: String {
        #"{"rev":"# + String(revision) + #","members":"# + PresenceRoster.object(members) + "}"
    }
}
