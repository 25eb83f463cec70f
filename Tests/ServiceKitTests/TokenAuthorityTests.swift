import Foundation
import ServiceKit
import Synchronization
import TestSupport
import Testing

@Suite struct TokenAuthorityTests {
    let secret = Array("0123456789abcdef0123456789abcdef".utf8)

    @Test func issuedTokenVerifiesWithItsClaims() async throws {
        let authority = await TokenAuthority(secret: secret)
        let token = try await authority.issue(subject: "alice", campaign: "demo", role: .gm, ttl: 3600)
        let claims = try await authority.verify(token)
        #expect(claims.subject == "alice")
        #expect(claims.campaign == "demo")
        #expect(claims.role == .gm)
        #expect(claims.expiresAt.timeIntervalSinceNow > 3500)
        #expect(token.split(separator: ".").count == 3)
    }

    @Test func expiredTokenIsRejectedAsExpired() async throws {
        let now = Mutex<Date>(Date())
        let authority = await TokenAuthority(secret: secret, now: { now.withLock { $0 } })
        let token = try await authority.issue(subject: "alice", campaign: "demo", role: .player, ttl: 60)
        now.withLock { $0 = $0.addingTimeInterval(61) }
        await #expect(throws: TokenRejection.expired) { try await authority.verify(token) }
    }

    @Test func tokenSignedWithAnotherSecretIsRejected() async throws {
        let other = await TokenAuthority(secret: Array("another-secret-another-secret-xx".utf8))
        let token = try await other.issue(subject: "mallory", campaign: "*", role: .service, ttl: 60)
        let authority = await TokenAuthority(secret: secret)
        await #expect(throws: TokenRejection.badSignature) { try await authority.verify(token) }
    }

    @Test func garbageIsMalformed() async throws {
        let authority = await TokenAuthority(secret: secret)
        await #expect(throws: TokenRejection.malformed) { try await authority.verify("not-a-jwt") }
        await #expect(throws: TokenRejection.malformed) { try await authority.verify("a.b.c") }
    }

    @Test func campaignClaimCoversOnlyItsCampaignOrAll() {
        let expiry = Date().addingTimeInterval(60)
        #expect(TokenClaims(subject: "u", campaign: "demo", role: .player, expiresAt: expiry).allows(campaign: "demo"))
        #expect(!TokenClaims(subject: "u", campaign: "demo", role: .player, expiresAt: expiry).allows(campaign: "other"))
        #expect(TokenClaims(subject: "u", campaign: "*", role: .service, expiresAt: expiry).allows(campaign: "other"))
    }
}

@Suite struct JWTSecretTests {
    @Test func secretFileIsCreatedOnceWithMode0600AndReused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try JWTSecret.loadOrCreate(in: directory.url)
        #expect(first.count == 32)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.file(JWTSecret.fileName).path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let second = try JWTSecret.loadOrCreate(in: directory.url)
        #expect(first == second)
    }

    /// Run many times: a creator that lost the race once read the winner's file before it was
    /// written and failed, now and then.
    @Test func concurrentCreatorsAgreeOnOneSecret() async throws {
        for _ in 0..<25 {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let secrets = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for _ in 0..<16 {
                    group.addTask { try JWTSecret.loadOrCreate(in: directory.url) }
                }
                var all: [[UInt8]] = []
                for try await secret in group { all.append(secret) }
                return all
            }
            #expect(Set(secrets.map { Data($0) }).count == 1)
            // Only the secret is left in the folder: no temporary file stays behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == [JWTSecret.fileName])
        }
    }

    @Test func tooShortSecretFileIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try "short".write(to: directory.file(JWTSecret.fileName), atomically: true, encoding: .utf8)
        #expect(throws: JWTSecret.Failure.self) { try JWTSecret.loadOrCreate(in: directory.url) }
    }
}

@Suite struct PathIdentifierTests {
    @Test(arguments: ["a", "demo", "Campaign_1", "x-y-z", "0", String(repeating: "a", count: 64)])
    func validIDs(_ id: String) {
        #expect(PathIdentifier.isValid(id))
    }

    @Test(arguments: ["", "-lead", "_lead", "has space", "slash/inside", "dot.dot", "ünïcode", String(repeating: "a", count: 65), "../etc"])
    func invalidIDs(_ id: String) {
        #expect(!PathIdentifier.isValid(id))
    }
}
