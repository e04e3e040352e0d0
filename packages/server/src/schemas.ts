/**
 * Request bodies, validated with zod: strict objects (an unknown field is a 400, as OpenAI answers
 * "Unrecognized request argument supplied"), OpenAI's ranges, and nothing defaulted when a field is
 * present but malformed. `null` means "not given", as in OpenAI's API.
 */
import { type ZodType, z } from 'zod';
import { type ApiError, invalidRequest } from './errors.js';

const opt = <T extends ZodType>(t: T) => t.nullable().optional();

const STOP_WANT = 'expected a non-empty string or an array of at most 4 non-empty strings';

/** Fields shared by /v1/chat/completions and /v1/completions. */
const common = {
  model: z.string({ error: 'expected a string (a model id from GET /v1/models)' }),
  stream: opt(z.boolean()),
  stream_options: opt(z.strictObject({ include_usage: opt(z.boolean()) })),
  max_tokens: opt(z.int().min(1)),
  temperature: opt(z.number().min(0).max(2)),
  top_p: opt(
    z.number().max(1).gt(0, { error: 'expected a number in (0, 1] (use temperature 0 for greedy decoding)' }),
  ),
  top_k: opt(z.int().min(0)),
  min_p: opt(z.number().min(0).max(1)),
  seed: opt(z.int()),
  stop: opt(z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(4)], { error: STOP_WANT })),
  presence_penalty: opt(z.number().min(-2).max(2)),
  frequency_penalty: opt(z.number().min(-2).max(2)),
  n: opt(
    z.int().min(1).max(1, { error: 'n > 1 is not supported: this server generates one choice per request' }),
  ),
  user: opt(z.string()),
};

const textPart = z.strictObject({ type: z.literal('text'), text: z.string() });

const message = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart).min(1)], {
    error: 'expected a string or an array of {"type": "text", "text": ...} parts',
  }),
  name: opt(z.string()),
});

export const chatCompletionSchema = z.strictObject({
  ...common,
  messages: z.array(message).min(1),
  max_completion_tokens: opt(z.int().min(1)),
  logprobs: opt(z.boolean()),
  top_logprobs: opt(z.int().min(0).max(20)),
});

export const completionSchema = z.strictObject({
  ...common,
  prompt: z.union([z.string(), z.array(z.int().min(0)).min(1)], {
    error: 'expected a string or a non-empty array of token ids',
  }),
  logprobs: opt(z.int().min(0).max(5)),
});

export const tokenizeSchema = z.strictObject({
  model: opt(z.string()),
  content: z.string(),
  add_special: opt(z.boolean()),
  parse_special: opt(z.boolean()),
  with_pieces: opt(z.boolean()),
});

export const detokenizeSchema = z.strictObject({
  model: opt(z.string()),
  tokens: z.array(z.int().min(0)),
});

export type ChatCompletionRequest = z.infer<typeof chatCompletionSchema>;
export type CompletionRequest = z.infer<typeof completionSchema>;
export type TokenizeRequest = z.infer<typeof tokenizeSchema>;
export type DetokenizeRequest = z.infer<typeof detokenizeSchema>;

/** `["messages", 0, "role"]` → `messages[0].role`. */
function paramName(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s;
}

/** The first zod issue as OpenAI's 400. */
function toApiError(issue: z.core.$ZodIssue): ApiError {
  if (issue.code === 'unrecognized_keys') {
    const parent = paramName(issue.path);
    const key = issue.keys[0] ?? '';
    const param = parent ? `${parent}.${key}` : key;
    return invalidRequest(`Unrecognized request argument supplied: ${param}`, param);
  }
  const param = paramName(issue.path);
  if (param === '') return invalidRequest(`The request body must be a JSON object: ${issue.message}.`);
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return invalidRequest(`Missing required parameter: '${param}'.`, param);
  }
  return invalidRequest(`Invalid value for '${param}': ${issue.message}.`, param);
}

/** Parses `body` with `schema` or throws the first problem as a 400 ApiError. */
export function validate<T>(schema: ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body, { reportInput: true });
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (!issue) throw invalidRequest('The request body is invalid.');
  throw toApiError(issue);
}

/** Cross-field rules OpenAI enforces beyond each field's own type. */
export function checkCommon(
  req: { stream?: boolean | null; stream_options?: unknown },
  extra?: { logprobs?: boolean | null; top_logprobs?: number | null },
): void {
  if (req.stream_options != null && req.stream !== true) {
    throw invalidRequest(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'stream_options',
    );
  }
  if (extra && extra.top_logprobs != null && extra.logprobs !== true) {
    throw invalidRequest("'top_logprobs' requires 'logprobs' to be true.", 'top_logprobs');
  }
}
