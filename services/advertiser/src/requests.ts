/**
 * The advertiser admin API's session requests: one TypeBox body per session kind, joined as a
 * `oneOf` discriminated by `kind` (OpenAPI shows each). A body without `kind` is a look-alike
 * request (the default, unchanged); an unknown kind, or a kind this node does not serve, is a
 * 400 problem+json naming the kinds it serves; an unknown field is a 400 naming the field.
 * Predicates are JSON (protocol/predicate.ts) validated by the node that evaluates them: A's
 * here (422 naming an unknown tag), media's by media (the session fails naming the attribute).
 */
import { Type, type TObject } from '@fastify/type-provider-typebox';
import type { SessionKind } from '@cleanroom/shared/common/names.ts';
import type { AdminApp } from '@cleanroom/shared/service/admin.ts';
import type { StartSessionRequest } from './node.ts';

const IdTypeField = Type.Optional(Type.Union([Type.Literal('phone'), Type.Literal('email'), Type.Literal('device')]));
const Common = {
  idType: IdTypeField,
  decoyRatio: Type.Optional(Type.Integer({ minimum: 1, maximum: 99 })),
  minCohort: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
};
const PredicateField = (who: string) => Type.Unknown({
  description: `a predicate over ${who} (docs/protocol.md, "Predicates"): {"all"|"any": [...]}, {"not": ...}, or a leaf {"${who === 'the advertiser\'s first-party tags' ? 'tag' : 'attr'}": name, "eq"|"in"|"gte"|"lte": value}`,
});

/** The body of each kind this node serves (the lookup and federated kinds add theirs here). */
export const KIND_BODIES: Partial<Record<SessionKind, TObject>> = {
  lookalike: Type.Object({
    kind: Type.Literal('lookalike'),
    ...Common,
    audienceSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })),
    seed: Type.Optional(Type.Union([Type.Literal('purchasers'), Type.Literal('all')])),
  }, { additionalProperties: false, title: 'lookalike' }),
  profile: Type.Object({
    kind: Type.Literal('profile'), ...Common, predicate: PredicateField('the advertiser\'s first-party tags'),
  }, { additionalProperties: false, title: 'profile' }),
  'joint-count': Type.Object({
    kind: Type.Literal('joint-count'), ...Common,
    predicate: PredicateField('the advertiser\'s first-party tags'),
    mediaPredicate: PredicateField('media\'s attributes'),
  }, { additionalProperties: false, title: 'joint-count' }),
  'joint-activate': Type.Object({
    kind: Type.Literal('joint-activate'),
    countSession: Type.String({ minLength: 1, maxLength: 80, description: 'the finished joint-count session this activation confirms (its selection is activated)' }),
  }, { additionalProperties: false, title: 'joint-activate' }),
  retargeting: Type.Object({
    kind: Type.Literal('retargeting'), ...Common, predicate: PredicateField('the advertiser\'s first-party tags'),
  }, { additionalProperties: false, title: 'retargeting' }),
  // A labeled lookup (docs/protocol.md §8): explicit IDs, or the consented CRM rows selected by `seed` (all by default).
  lookup: Type.Object({
    kind: Type.Literal('lookup'),
    idType: IdTypeField,
    decoyRatio: Type.Optional(Type.Integer({ minimum: 1, maximum: 99 })),
    seed: Type.Optional(Type.Union([Type.Literal('purchasers'), Type.Literal('all')])),
    ids: Type.Optional(Type.Array(Type.String({ maxLength: 320 }), { minItems: 1, maxItems: 1_000_000, description: 'raw IDs to look up (normalised by the advertiser; invalid rows rejected one by one)' })),
  }, { additionalProperties: false, title: 'lookup' }),
  // Joins the broker's federated session `sessionId` (declared at the broker; issue 14).
  federated: Type.Object({
    kind: Type.Literal('federated'), sessionId: Type.String({ pattern: '^[A-Za-z0-9-]{1,56}$' }),
  }, { additionalProperties: false, title: 'federated' }),
};

/** A federation member joining the broker's federated session. */
export interface FederatedJoinRequest {
  kind: 'federated';
  sessionId: string;
}

/** The kinds this node serves, in SESSION_KINDS order. */
export function servedKinds(): SessionKind[] {
  return Object.keys(KIND_BODIES) as SessionKind[];
}

/** One body per kind, `oneOf` discriminated by `kind` (ajv reports the one branch that applies). */
export function startSessionBody() {
  return Type.Unsafe<StartSessionRequest>({ oneOf: Object.values(KIND_BODIES), discriminator: { propertyName: 'kind' } });
}

/** `POST /v1/sessions`: validates the body of its kind and starts the session (202 with its id). */
export function sessionStartRoute(app: AdminApp, start: (req: StartSessionRequest | FederatedJoinRequest) => { sessionId: string }): void {
  app.post('/v1/sessions', {
    schema: { body: startSessionBody(), response: { 202: Type.Object({ sessionId: Type.String(), kind: Type.String() }) } },
    // A body without `kind` is a look-alike request; an unknown kind is refused before validation.
    preValidation: async (req) => {
      const body = req.body as Record<string, unknown> | null;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
      body.kind ??= 'lookalike';
      if (typeof body.kind !== 'string' || !servedKinds().includes(body.kind as SessionKind)) {
        throw Object.assign(new Error(`unknown session kind ${JSON.stringify(body.kind)}: this node serves ${servedKinds().join(', ')}; nothing was started`), { statusCode: 400 });
      }
    },
  }, async (req, reply) => {
    const { sessionId } = start(req.body as StartSessionRequest | FederatedJoinRequest);
    return reply.code(202).send({ sessionId, kind: (req.body as { kind: string }).kind });
  });
}
