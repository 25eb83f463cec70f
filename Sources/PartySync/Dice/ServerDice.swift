public import JSONValues
import Crypto
import Foundation
import ServiceKit

/// Fair dice: a client publishes `dice.roll` with what to roll, and the server stores
/// `dice.rolled` with the dice it rolled, so nobody can forge a roll. A client may not
/// publish `dice.rolled` itself.
///
/// The event keeps the publisher's `cmid` (or `Idempotency-Key`) and is identified by the
/// request, not by the dice: a repeated publish answers with the first roll instead of
/// rolling again.
public enum ServerDice {
    public static let requestType = "dice.roll"
    public static let resultType = "dice.rolled"
    /// The longest `label` ("attack on the ogre") a roll may carry.
    public static let maxLabelLength = 100

    /// Why a publish about dice was refused.
    public struct Refusal: Error, Sendable, Equatable {
        /// `reserved_type` or `invalid_dice`.
        public let code: String
        /// A JSON Pointer into the published body, for REST problem details.
        public let pointer: String
        public let message: String
    }

    /// The draft to store for a publish: a `dice.roll` rolled into a `dice.rolled`, any other
    /// type unchanged.
    public static func resolve(_ draft: EventDraft, payload: ExactJSON?) throws(Refusal) -> EventDraft {
        if draft.type == resultType {
            throw Refusal(code: "reserved_type", pointer: "/type", message: "dice.rolled is written by the server; publish dice.roll with an expression instead.")
        }
        guard draft.type == requestType else { return draft }
        guard case .object(let members)? = payload else {
            throw Refusal(code: "invalid_dice", pointer: "/payload", message: "dice.roll needs a payload object with an expression, such as {\"expression\": \"2d20kh1+5\"}.")
        }
        if let unknown = members.keys.sorted().first(where: { $0 != "expression" && $0 != "label" }) {
            throw Refusal(code: "invalid_dice", pointer: "/payload/\(JSONValue.escapePointerToken(unknown))", message: "dice.roll takes expression and label, not \(unknown).")
        }
        guard case .string(let text)? = members["expression"] else {
            throw Refusal(code: "invalid_dice", pointer: "/payload/expression", message: "dice.roll needs an expression string, such as \"2d20kh1+5\".")
        }
        var label: String?
        switch members["label"] {
        case nil, .null?: break
        case .string(let value)? where value.count <= maxLabelLength: label = value
        default: throw Refusal(code: "invalid_dice", pointer: "/payload/label", message: "label is a string of at most \(maxLabelLength) characters.")
        }
        let expression: DiceExpression
        do {
            expression = try DiceExpression(parsing: text)
        } catch {
            throw Refusal(code: "invalid_dice", pointer: "/payload/expression", message: "'\(text)': \(error.message).")
        }
        var generator = SystemRandomNumberGenerator()
        let roll = expression.roll(using: &generator)
        var rolled = draft
        rolled.type = resultType
        rolled.payload = roll.payload(label: label).canonicalText
        let request = requestType + "\u{0}" + (payload?.canonicalText ?? "")
        rolled.requestFingerprint = SHA256.hash(data: Data(request.utf8)).hexString
        return rolled
    }
}
