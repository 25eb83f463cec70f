public import JWTKit

public import Foundation

/// The claims of an RPGBot access token: who (`sub`), for which campaign (`campaign`, or `*`
/// for all), as what (`role`), until when (`exp`).
public struct TokenClaims: JWTPayload, Equatable {
    /// The campaign value that grants access to every campaign.
    public static let anyCampaign = "*"

    public var subject: String
    public var campaign: String
    public var role: Role
    public var expiresAt: Date
    public var issuedAt: Date?

    enum CodingKeys: String, CodingKey {
        case subject = "sub"
        case campaign
        case role
        case expiresAt = "exp"
        case issuedAt = "iat"
    }

    public init(subject: String, campaign: String, role: Role, expiresAt: Date, issuedAt: Date? = nil) {
        self.subject = subject
        self.campaign = campaign
        self.role = role
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        subject = try container.decode(String.self, forKey: .subject)
        campaign = try container.decode(String.self, forKey: .campaign)
        role = try container.decode(Role.self, forKey: .role)
        // JWT dates are NumericDate: seconds since the epoch, possibly fractional.
        expiresAt = Date(timeIntervalSince1970: try container.decode(Double.self, forKey: .expiresAt))
        issuedAt = try container.decodeIfPresent(Double.self, forKey: .issuedAt).map(Date.init(timeIntervalSince1970:))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(subject, forKey: .subject)
        try container.encode(campaign, forKey: .campaign)
        try container.encode(role, forKey: .role)
        try container.encode(Int64(expiresAt.timeIntervalSince1970.rounded(.down)), forKey: .expiresAt)
        try container.encodeIfPresent(issuedAt.map { Int64($0.timeIntervalSince1970.rounded(.down)) }, forKey: .issuedAt)
    }

    /// Expiry is checked by ``TokenAuthority`` against its own clock, so that it can report
    /// "expired" apart from "invalid"; nothing else in the payload needs the algorithm.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// Whether these claims grant access to `campaignID`.
    public func allows(campaign campaignID: String) -> Bool {
        campaign == Self.anyCampaign || campaign == campaignID
    }
}
