import Foundation
import JSONValues
import NIOHTTP1
import PartySync
import RPGBotApp
import ServiceKit
import TestSupport
import Testing

@Suite("Fair dice: the grammar, the limits, the roll")
struct DiceTests {
    @Test("expressions parse into their normal form", arguments: [
        ("2d20kh1+5", "2d20kh1+5"), ("D%", "1d100"), (" 4d6 DL1 ", "4d6dl1"), ("3d8-2", "3d8-2"),
        ("1d4+1d6+3", "1d4+1d6+3"), ("d20-1d4", "1d20-1d4"), ("2d20kl1", "2d20kl1"), ("5d10dh2", "5d10dh2"), ("10+d6", "10+1d6"),
    ])
    func parses(_ text: String, _ normal: String) throws {
        #expect(try DiceExpression(parsing: text).description == normal)
    }

    @Test("bad expressions and expressions over the limits are refused with a reason", arguments: [
        ("", "empty"), ("2d", "sides"), ("d1", "2 to 1000 sides"), ("0d6", "1 to 100 dice"), ("101d6", "1 to 100 dice"),
        ("2d1001", "2 to 1000 sides"), ("2d20kh3", "keep at least one"), ("4d6dl4", "keep at least one"), ("2d6*3", "expected + or -"),
        ("1d6+", "expected a number or dice"), ("123456d6", "at most 10000"), ("5+3", "rolls no dice"), ("100d6+100d6+1d6", "200 dice"),
        ("1d6+1d6+1d6+1d6+1d6+1d6+1d6+1d6+1d6+1d6+1d6", "10 terms"), (String(repeating: "1", count: 65), "64 characters"), ("2d20kh", "how many dice"),
    ])
    func refuses(_ text: String, _ reason: String) {
        #expect {
            _ = try DiceExpression(parsing: text)
        } throws: { error in
            (error as? DiceExpression.ParseError)?.message.contains(reason) == true
        }
    }

    @Test("rolls stay within the dice, keep what the expression says, and total the kept dice and the numbers")
    func rollShape() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let roll = try DiceExpression(parsing: "4d6dl1+2d20kh1-1d4+3").roll(using: &generator)
            #expect(roll.groups.map(\.rolls.count) == [4, 2, 1])
            #expect(roll.groups.map(\.kept.count) == [3, 1, 1])
            for group in roll.groups { #expect(group.rolls.allSatisfy { (1...group.sides).contains($0) }) }
            let fours = roll.groups[0]
            // The dropped die is a lowest one.
            let dropped = Set(fours.rolls.indices).subtracting(fours.kept).map { fours.rolls[$0] }
            #expect(dropped.count == 1 && dropped[0] == fours.rolls.min())
            #expect(roll.groups[2].subtotal < 0)
            #expect(roll.total == roll.groups.reduce(3) { $0 + $1.subtotal })
        }
    }

    @Test("over many rolls: every face of a d6 about equally often, advantage and 4d6-drop-lowest at their known means")
    func distribution() throws {
        // Seeded: the same rolls, and the same verdict, on every run.
        var generator = SplitMix64(seed: 42)
        var faces = [Int](repeating: 0, count: 7)
        let d6 = try DiceExpression(parsing: "1d6")
        for _ in 0..<60_000 { faces[d6.roll(using: &generator).total] += 1 }
        #expect(faces[1...].allSatisfy { abs($0 - 10_000) < 400 }, "\(faces)")
        func mean(_ text: String) throws -> Double {
            let expression = try DiceExpression(parsing: text)
            return Double((0..<40_000).reduce(0) { sum, _ in sum + expression.roll(using: &generator).total }) / 40_000
        }
        // Exact means: 2d20kh1 = 13.825, 4d6dl1 = 12.2446.
        #expect(abs(try mean("2d20kh1") - 13.825) < 0.1)
        #expect(abs(try mean("4d6dl1") - 12.2446) < 0.05)
    }

    static func draft(_ type: String, _ payload: String) throws -> (EventDraft, ExactJSON) {
        let json = try ExactJSON.parse(payload)
        return (EventDraft(campaignID: "demo", type: type, actor: "ada", role: .player, cmid: "r-1", payload: json.canonicalText), json)
    }

    @Test("a dice.roll becomes a dice.rolled with the dice; repeats of the request keep one identity; clients cannot write dice.rolled")
    func resolve() throws {
        let (draft, payload) = try Self.draft("dice.roll", #"{"expression":"2d20kh1+5","label":"attack"}"#)
        let first = try ServerDice.resolve(draft, payload: payload)
        let second = try ServerDice.resolve(draft, payload: payload)
        #expect(first.type == "dice.rolled" && first.cmid == "r-1" && first.actor == "ada")
        let rolled = try #require(try JSONValue.parse(first.payload).objectValue)
        #expect(rolled["expression"] == .string("2d20kh1+5") && rolled["label"] == .string("attack"))
        #expect(rolled["dice"]?.arrayValue?.first?.objectValue?["rolls"]?.arrayValue?.count == 2)
        // Identified by the request: a retry matches the stored roll, whatever the dice did.
        #expect(first.fingerprint == second.fingerprint)
        let (other, otherPayload) = try Self.draft("dice.roll", #"{"expression":"1d20"}"#)
        #expect(try ServerDice.resolve(other, payload: otherPayload).fingerprint != first.fingerprint)

        let (chat, chatPayload) = try Self.draft("chat.say", #"{"text":"hi"}"#)
        #expect(try ServerDice.resolve(chat, payload: chatPayload) == chat)
        for (type, body, code, pointer) in [
            ("dice.rolled", #"{"total":20}"#, "reserved_type", "/type"),
            ("dice.roll", #"{}"#, "invalid_dice", "/payload/expression"),
            ("dice.roll", #"{"expression":"2d6*2"}"#, "invalid_dice", "/payload/expression"),
            ("dice.roll", #"{"expression":"1d6","label":7}"#, "invalid_dice", "/payload/label"),
            ("dice.roll", #"{"expression":"1d6","seed":7}"#, "invalid_dice", "/payload/seed"),
            ("dice.roll", #"[1]"#, "invalid_dice", "/payload"),
        ] {
            let (bad, badPayload) = try Self.draft(type, body)
            #expect {
                _ = try ServerDice.resolve(bad, payload: badPayload)
            } throws: { error in
                let refusal = error as? ServerDice.Refusal
                return refusal?.code == code && refusal?.pointer == pointer
            }
        }
    }

    @Test("over REST and WebSocket: the server rolls, a repeated key answers the first roll, bad dice are refused")
    func live() async throws {
        try await LiveServer.run { server in
            // REST publishing is for game masters and services; players roll over WebSocket.
            let gm = try await server.token("gm", role: .gm)
            let (watcher, _) = try await server.join("bo")
            let first = try await server.restPublish(type: "dice.roll", payload: ["expression": "4d6dl1"], key: "roll-1", token: gm)
            #expect(first.status == 201)
            let again = try await server.restPublish(type: "dice.roll", payload: ["expression": "4d6dl1"], key: "roll-1", token: gm)
            #expect(again.status == 201 && again.body == first.body && again.headers.first(name: "Idempotent-Replayed") == "true")
            let forged = try await server.restPublish(type: "dice.rolled", payload: ["total": 18], token: gm)
            #expect(forged.status == 422 && forged.body.contains("/type"))
            let bad = try await server.restPublish(type: "dice.roll", payload: ["expression": "1000d6"], token: gm)
            #expect(bad.status == 422 && bad.body.contains("/payload/expression"))

            watcher.send(json: ["t": "publish", "cmid": "w-1", "type": "dice.roll", "payload": ["expression": "d20+2", "label": "stealth"]])
            watcher.send(json: ["t": "publish", "cmid": "w-2", "type": "dice.rolled", "payload": ["total": 20]])
            // Two events (the REST roll, this one) and the refusal, in whatever order they interleave.
            var events: [[String: Any]] = []
            var refused: [String: Any]?
            while events.count < 2 || refused == nil, let frame = try await watcher.next(timeout: .seconds(10)) {
                if frame["t"] as? String == "event" { events.append(frame) }
                if frame["t"] as? String == "error" { refused = frame }
            }
            #expect(events.map { $0["type"] as? String } == ["dice.rolled", "dice.rolled"])
            let payload = try #require(events.last?["payload"] as? [String: Any])
            #expect(payload["label"] as? String == "stealth" && payload["expression"] as? String == "1d20+2")
            let total = try #require(payload["total"] as? Int)
            #expect((3...22).contains(total))
            #expect(refused?["reason"] as? String == "reserved_type" && refused?["cmid"] as? String == "w-2")
            #expect(try await server.server.partySync!.hub.store.head(campaignID: "demo").top == 2)
        }
    }
}
