/// What a token holder may do: players act in their campaign, the GM also runs it, and
/// services (other backends, tools) act on behalf of the system.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    case player
    case gm
    case service

    public static func < (lhs: Role, rhs: Role) -> Bool {
        lhs.order < rhs.order
    }

    private var order: Int {
        switch self {
        case .player: 0
        case .gm: 1
        case .service: 2
        }
    }
}
