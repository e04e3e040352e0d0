import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { getArchitecture } from '@quant/plugin-api';
import { describeValue, invalidPrompt, QuantRuntimeError, TemplateLimitError } from '../errors.js';
import { BUILTIN_TEMPLATES, type BuiltinTemplateName } from './builtin-templates.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

/** Roles a chat message may have (the Hugging Face chat-template conventions; `ipython` is Llama 3.1's tool role). */
export const CHAT_ROLES: readonly string[] = ['system', 'user', 'assistant', 'tool', 'ipython'];

/**
 * Budgets of one chat-template rendering. Chat templates come from downloaded GGUF files, so they
 * are untrusted code: a template that exceeds a budget fails with TemplateLimitError
 * (`TEMPLATE_LIMIT`). Real templates use a tiny fraction of the defaults.
 */
export interface TemplateLimits {
  /**
   * Most evaluation steps: one per template node evaluated, plus one per entry of each list or
   * mapping built and two per entry a `for` loop visits (default 200,000; a 100-message
   * conversation takes under 5,000 with the Llama 2/3 and Phi-3 templates).
   */
  maxSteps?: number;
  /** Most wall-clock milliseconds (default 5,000), checked every 1,024 steps; a backstop behind maxSteps. */
  timeoutMs?: number;
  /**
   * Longest string the template may build, its output included (default 2,000,000 characters —
   * far more than any context holds). The total length of all strings the template's expressions
   * yield while rendering is capped at 16× this.
   */
  maxOutputChars?: number;
  /** Most entries in a list or mapping the template builds, e.g. with `range()` (default 100,000). */
  maxItems?: number;
}

export const DEFAULT_TEMPLATE_LIMITS: Readonly<Required<TemplateLimits>> = {
  maxSteps: 200_000,
  timeoutMs: 5_000,
  maxOutputChars: 2_000_000,
  maxItems: 100_000,
};

export interface RenderChatOptions {
  bosToken?: string;
  eosToken?: string;
  /** Append the assistant header so the model answers (default true). */
  addGenerationPrompt?: boolean;
  /** Extra variables for the template. */
  variables?: Record<string, unknown>;
  /** Rendering budgets (see TemplateLimits). */
  limits?: TemplateLimits;
}

/**
 * Resolves a template: a built-in name ("llama2" | "llama3"), the name of a registered architecture
 * plugin that supplies a chat template (e.g. "phi3"), or Jinja source. Any other bare word fails
 * with CHAT_TEMPLATE rather than rendering as literal text.
 */
export function templateSource(template: string): string {
  if (Object.hasOwn(BUILTIN_TEMPLATES, template)) return BUILTIN_TEMPLATES[template as BuiltinTemplateName];
  if (/^[A-Za-z][\w.-]*$/.test(template)) {
    const fromPlugin = getArchitecture(template)?.chatTemplate;
    if (fromPlugin) return fromPlugin;
    throw new QuantRuntimeError(
      'CHAT_TEMPLATE',
      `"${template}" is not a chat template: no built-in template (${Object.keys(BUILTIN_TEMPLATES).join(', ')}) and no registered architecture plugin with a chat template has that name. Pass Jinja source or one of those names.`,
    );
  }
  return template;
}

/** Checks chat messages: an array of `{ role, content }` with a known role and string content. */
export function validateChatMessages(messages: unknown): asserts messages is readonly ChatMessage[] {
  if (!Array.isArray(messages)) {
    throw invalidPrompt(
      `Chat messages must be an array of { role, content } objects, got ${describeValue(messages)}.`,
    );
  }
  messages.forEach((m: unknown, i) => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      throw invalidPrompt(`Chat message ${i} is ${describeValue(m)}, not a { role, content } object.`);
    }
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !CHAT_ROLES.includes(role)) {
      throw invalidPrompt(
        `Chat message ${i} has role ${describeValue(role)}; expected one of ${CHAT_ROLES.join(', ')} (a template would silently drop it).`,
      );
    }
    if (typeof content !== 'string') {
      throw invalidPrompt(
        `Chat message ${i} (${role}) has content ${describeValue(content)}; content must be a string.`,
      );
    }
  });
}

function resolveLimits(l: TemplateLimits | undefined): Required<TemplateLimits> {
  const out = { ...DEFAULT_TEMPLATE_LIMITS };
  if (l === undefined) return out;
  if (typeof l !== 'object' || l === null)
    throw new QuantRuntimeError(
      'INVALID_OPTION',
      `templateLimits must be an object, got ${describeValue(l)}.`,
    );
  for (const k of Object.keys(out) as (keyof TemplateLimits)[]) {
    const v = l[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v > 0) || !(Number.isInteger(v) || v === Number.POSITIVE_INFINITY)) {
      throw new QuantRuntimeError(
        'INVALID_OPTION',
        `templateLimits.${k} = ${describeValue(v)} is invalid: expected a positive integer (or Infinity).`,
      );
    }
    out[k] = v;
  }
  return out;
}

/** What evaluate() returns, as far as the budget checks need it. */
interface RuntimeValueLike {
  type: string;
  value: unknown;
}

/** Nodes whose value is an existing value (a variable or literal), not a newly built one. */
const NO_NEW_VALUE = new Set(['Identifier', 'MemberExpression', 'StringLiteral']);

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

type Node = NonNullable<Parameters<Interpreter['evaluate']>[0]>;

/**
 * @huggingface/jinja's interpreter with budgets. Every node of the template goes through
 * `evaluate` (the interpreter's own methods call `this.evaluate`), so counting there bounds the
 * work: a step per node, plus one per entry of every new list or mapping (building it) and of every
 * `for` loop's iterable (charged before the loop runs, so a loop with an empty body is counted
 * too); elapsed time whenever the count passes a multiple of 1,024; the size of each string, list
 * and mapping; and the total text produced (what `for` loops accumulate internally).
 */
class BoundedInterpreter extends Interpreter {
  private steps = 0;
  private produced = 0;
  private readonly started = now();
  /** Iterable expressions of the `for` loops being evaluated. */
  private readonly loopIterables = new Set<Node>();
  constructor(
    env: Environment,
    private readonly limits: Required<TemplateLimits>,
  ) {
    super(env);
  }

  private charge(n: number): void {
    const l = this.limits;
    const before = this.steps;
    this.steps += n;
    if (this.steps > l.maxSteps)
      throw new TemplateLimitError(
        'maxSteps',
        l.maxSteps,
        `more than ${l.maxSteps} evaluation steps were needed`,
      );
    if (before >>> 10 !== this.steps >>> 10 && now() - this.started > l.timeoutMs)
      throw new TemplateLimitError('timeoutMs', l.timeoutMs, `rendering ran for more than ${l.timeoutMs} ms`);
  }

  override evaluate(
    statement: Node | undefined,
    environment: Environment,
  ): ReturnType<Interpreter['evaluate']> {
    const l = this.limits;
    this.charge(1);
    if (statement?.type === 'For') {
      const f = statement as unknown as { iterable: Node & { type: string; lhs?: Node } };
      this.loopIterables.add(
        f.iterable.type === 'SelectExpression' && f.iterable.lhs ? f.iterable.lhs : f.iterable,
      );
    }
    const result = super.evaluate(statement, environment);
    const v = result as unknown as RuntimeValueLike;
    if (statement && this.loopIterables.delete(statement)) {
      // The loop will visit every entry (its preparation alone is a JS loop over them).
      const n = Array.isArray(v.value) ? v.value.length : v.value instanceof Map ? v.value.size : 0;
      this.charge(2 * n);
    }
    if (typeof v.value === 'string') {
      const n = v.value.length;
      if (n > l.maxOutputChars)
        throw new TemplateLimitError('maxOutputChars', l.maxOutputChars, `it built a ${n}-character string`);
      // Every string a node yields may be appended to a block's output (a `for` loop accumulates
      // its body's text internally), so all of them count, variables and literals included.
      this.produced += n;
      if (this.produced > 16 * l.maxOutputChars)
        throw new TemplateLimitError(
          'maxOutputChars',
          l.maxOutputChars,
          `it produced more than ${16 * l.maxOutputChars} characters of text in total (16× the limit)`,
        );
    } else if (Array.isArray(v.value) || v.value instanceof Map) {
      const n = Array.isArray(v.value) ? v.value.length : (v.value as Map<unknown, unknown>).size;
      if (n > l.maxItems)
        throw new TemplateLimitError('maxItems', l.maxItems, `it built a collection of ${n} entries`);
      if (statement && !NO_NEW_VALUE.has(statement.type)) this.charge(n);
    }
    return result;
  }
}

/** Python's range(), as @huggingface/jinja implements it, refusing before it allocates more than `maxItems`. */
function boundedRange(maxItems: number) {
  return (start: number, stop?: number, step = 1): number[] => {
    let a = start;
    let b = stop;
    if (b === undefined) {
      b = a;
      a = 0;
    }
    if (step === 0) throw new Error('range() step must not be zero');
    const count = step > 0 ? Math.ceil((b - a) / step) : Math.ceil((a - b) / -step);
    if (count > maxItems)
      throw new TemplateLimitError('maxItems', maxItems, `range() was asked for ${count} numbers`);
    const out: number[] = [];
    if (step > 0) for (let i = a; i < b; i += step) out.push(i);
    else for (let i = a; i > b; i += step) out.push(i);
    return out;
  };
}

/** strftime_now(format), as @huggingface/jinja implements it (%Y %m %d %b %B %H %M %%). */
function strftimeNow(format: string): string {
  const date = new Date();
  const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));
  return String(format).replace(/%[YmdbBHM%]/g, (token) => {
    switch (token) {
      case '%Y':
        return String(date.getFullYear());
      case '%m':
        return pad2(date.getMonth() + 1);
      case '%d':
        return pad2(date.getDate());
      case '%b':
        return new Intl.DateTimeFormat(undefined, { month: 'short' }).format(date);
      case '%B':
        return new Intl.DateTimeFormat(undefined, { month: 'long' }).format(date);
      case '%H':
        return pad2(date.getHours());
      case '%M':
        return pad2(date.getMinutes());
      default:
        return '%';
    }
  });
}

/** The globals @huggingface/jinja's Template.render sets up, with range() bounded. */
function globalEnvironment(limits: Required<TemplateLimits>): Environment {
  const env = new Environment();
  env.set('false', false);
  env.set('true', true);
  env.set('none', null);
  env.set('raise_exception', (args: unknown) => {
    throw new Error(String(args));
  });
  env.set('range', boundedRange(limits.maxItems));
  env.set('strftime_now', strftimeNow);
  env.set('True', true);
  env.set('False', false);
  env.set('None', null);
  return env;
}

const cache = new Map<string, Template>();

/**
 * Renders messages with a Jinja chat template (the GGUF's or a built-in) via @huggingface/jinja's
 * parser and interpreter, within `limits` (TEMPLATE_LIMIT when a budget runs out). Messages are
 * checked first (INVALID_PROMPT naming the message's index).
 */
export function renderChat(
  template: string,
  messages: readonly ChatMessage[],
  o: RenderChatOptions = {},
): string {
  validateChatMessages(messages);
  const limits = resolveLimits(o.limits);
  const src = templateSource(template);
  let t = cache.get(src);
  try {
    if (!t) {
      t = new Template(src);
      if (cache.size > 32) cache.clear();
      cache.set(src, t);
    }
    const env = globalEnvironment(limits);
    const items: Record<string, unknown> = {
      ...o.variables,
      messages: messages.map((m) => ({ ...m })),
      bos_token: o.bosToken ?? '',
      eos_token: o.eosToken ?? '',
      add_generation_prompt: o.addGenerationPrompt ?? true,
    };
    for (const [key, value] of Object.entries(items)) env.set(key, value);
    const result = new BoundedInterpreter(env, limits).run(t.parsed);
    return String((result as unknown as RuntimeValueLike).value);
  } catch (e) {
    if (e instanceof TemplateLimitError) throw e;
    throw new QuantRuntimeError(
      'CHAT_TEMPLATE',
      `The chat template failed to render: ${(e as Error).message}. Pass { chatTemplate } with a working template or a built-in name (${Object.keys(BUILTIN_TEMPLATES).join(', ')}).`,
      { cause: e },
    );
  }
}

/**
 * The built-in format to fall back to for a model whose GGUF has no `tokenizer.chat_template` and
 * whose plugin supplies none: llama3 when the vocabulary has `<|start_header_id|>`, else llama2.
 */
export function fallbackTemplate(
  _architecture: string,
  hasToken: (text: string) => boolean,
): BuiltinTemplateName {
  if (hasToken('<|start_header_id|>')) return 'llama3';
  return 'llama2';
}
