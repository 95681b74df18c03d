"""Domain (领域) choices from the plain Chinese people type in the chat.

People name domains by canonical name, by the department they deal with (环保, 住建局), with
typos (生太环境), as everything (全部领域), or as everything but a few (除了税务都要). The text
is scanned for the longest known word at each place first, so a name such as 文化和旅游 is
never split at its 和; only the words left over are fuzzy-matched. A word close to several
domains is returned as ambiguous so the dialog can ask instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from rapidfuzz import fuzz, process

from core.domains import DOMAINS, Domain, all_names
from core.text import FULL_WIDTH_BRACKETS, fold_keeping_positions


@dataclass(frozen=True)
class DomainChoice:
    """What a message says about domains.

    `domains` is what the report would cover, in catalogue order: all 40 when `everything`,
    the rest when some were excluded (`excluded` then names them). `ambiguous` and `unknown`
    are words the dialog must ask about before the choice is final.
    """

    domains: tuple[Domain, ...]
    ambiguous: tuple[tuple[str, tuple[Domain, ...]], ...] = ()
    unknown: tuple[str, ...] = ()
    everything: bool = False
    excluded: tuple[Domain, ...] = ()


class _Kind(Enum):
    DOMAIN = auto()
    WORD = auto()  # not in the vocabulary: fuzzy-matched later
    ALL = auto()  # 全部, 所有领域: everything, even next to named domains
    ALL_WEAK = auto()  # 都要, 其他: everything only when nothing is named or some are excluded
    EXCLUDE_BEFORE = auto()  # 除了, 不要: the domains that follow are excluded
    EXCLUDE_AFTER = auto()  # 以外, 外: the domains just before are excluded
    INCLUDE = auto()  # 要, 只要: ends an exclusion
    SUFFIX = auto()  # 领域, 局: belongs to the word before it
    LIST = auto()  # 、 和: joins list items
    CLAUSE = auto()  # 。 ends a list
    FILLER = auto()


#: Words a following 领域 or 局 belongs to.
_MENTIONS = frozenset({_Kind.DOMAIN, _Kind.WORD, _Kind.ALL, _Kind.ALL_WEAK})

_ALL_WORDS = (
    "全部",
    "所有",
    "全都",
    "全要",
    "全选",
    "全领域",
    "一切",
    "四十个",
    "40个",
    "各领域",
    "各个领域",
)
_ALL_WEAK_WORDS = ("都要", "都查", "都行", "都可以", "都开", "其他", "其余", "其它", "别的", "剩下")
_EXCLUDE_BEFORE_WORDS = (
    "除了", "除去", "除开", "除掉", "除", "不要", "不含", "不包括", "不包含", "不需要",
    "不用", "不查", "排除", "去掉", "去除", "剔除", "刨除",
)  # fmt: skip
_EXCLUDE_AFTER_WORDS = ("以外", "之外", "外")
_INCLUDE_WORDS = ("要", "只要", "只查", "只", "仅", "仅要", "就要", "需要", "我要", "但", "但是")
_SUFFIX_WORDS = ("领域", "方面", "部门", "类", "局", "厅", "委", "系统")
_LIST_WORDS = (
    "、",
    "和",
    "及",
    "与",
    "以及",
    "跟",
    "还有",
    "加上",
    "外加",
    "另外",
    "此外",
    "/",
    "+",
    "&",
    ";",
    "；",
)
_CLAUSE_WORDS = ("。", "!", "?", "！", "？")
#: Commas list domains in a reply but separate clauses in a longer request.
_COMMAS = (",", "，")
_FILLER_WORDS = (
    "帮我", "帮忙", "麻烦", "请", "我想", "我想要", "想要", "开", "开具", "出具", "办", "办理",
    "查", "查询", "一下", "看看", "一份", "份", "个", "的", "了", "吧", "呢", "啊", "呀", "哦",
    "嗯", "好的", "你好", "您好", "谢谢", "等", "等等", "专项信用报告", "信用报告", "报告",
    "信用", "记录", "证明",
    "就", "也", "还", "再", "包括", "包含", "含", "我们", "我", "我司", "公司", "企业",
    "本公司", "这些", "几个", "有关", "相关",
    # period words, so that 全年 or 近三年 are never taken for domain words
    "全年", "上半年", "下半年", "全部时间", "所有时间", "全部期间", "所有期间", "全时段", "以来", "至今",
)  # fmt: skip
#: Characters of dates and numbers; they end a leftover word but never start a domain.
_BREAK_CHARS = frozenset("年月日号天周季度第近今去至到半一二两三四五六七八九十〇零:：.-~")

#: Fuzzy scores are fuzz.ratio (0–100); one wrong character of two scores 50.
_CUTOFF = 50
#: In a longer sentence only confident matches count, or any word could become a domain.
_SENTENCE_CUTOFF = 75
#: Candidates this close to the best one are equally likely.
_MARGIN = 10
#: A leftover this short next to a domain word may be a typo inside that word (生太|环境).
_MAX_ABSORBED = 2
_ABSORB_CUTOFF = 60


@dataclass
class _Token:
    kind: _Kind
    start: int
    end: int
    text: str
    candidates: tuple[Domain, ...] = ()
    excluded: bool = False
    reported: bool = False


def _build_lexicon(comma_kind: _Kind) -> dict[str, tuple[_Kind, Domain | None]]:
    lexicon: dict[str, tuple[_Kind, Domain | None]] = {}
    groups = (
        (_FILLER_WORDS, _Kind.FILLER),
        (_SUFFIX_WORDS, _Kind.SUFFIX),
        (_INCLUDE_WORDS, _Kind.INCLUDE),
        (_LIST_WORDS, _Kind.LIST),
        (_CLAUSE_WORDS, _Kind.CLAUSE),
        (_COMMAS, comma_kind),
        (_EXCLUDE_AFTER_WORDS, _Kind.EXCLUDE_AFTER),
        (_EXCLUDE_BEFORE_WORDS, _Kind.EXCLUDE_BEFORE),
        (_ALL_WEAK_WORDS, _Kind.ALL_WEAK),
        (_ALL_WORDS, _Kind.ALL),
    )
    for words, kind in groups:
        lexicon.update((word, (kind, None)) for word in words)
    # Domain words last: they win over any marker spelt the same way.
    lexicon.update((name, (_Kind.DOMAIN, domain)) for name, domain in _VOCABULARY.items())
    return lexicon


_VOCABULARY = all_names()
_NAMES = list(_VOCABULARY)
_LEXICONS = {reply: _build_lexicon(_Kind.LIST if reply else _Kind.CLAUSE) for reply in (True, False)}
_LONGEST = max(len(word) for word in _LEXICONS[True])


# --- scanning ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    return fold_keeping_positions(text, FULL_WIDTH_BRACKETS)


def _scan(text: str, reply: bool) -> list[_Token]:
    """Longest vocabulary match at each place; unmatched runs become WORD tokens."""
    lexicon = _LEXICONS[reply]
    tokens: list[_Token] = []
    word_start: int | None = None
    i = 0
    while i < len(text):
        found = _longest_at(text, i, lexicon)
        if found is None and not _is_break(text[i]):
            word_start = i if word_start is None else word_start
            i += 1
            continue
        if word_start is not None:
            tokens.append(_Token(_Kind.WORD, word_start, i, text[word_start:i]))
            word_start = None
        if found is None:
            i += 1  # whitespace and date characters separate words
            if text[i - 1].isspace():
                tokens.append(_Token(_Kind.LIST, i - 1, i, " "))
            continue
        word, kind, domain = found
        tokens.append(_Token(kind, i, i + len(word), word, (domain,) if domain else ()))
        i += len(word)
    if word_start is not None:
        tokens.append(_Token(_Kind.WORD, word_start, len(text), text[word_start:]))
    return _attach_suffixes(tokens)


def _longest_at(
    text: str, i: int, lexicon: dict[str, tuple[_Kind, Domain | None]]
) -> tuple[str, _Kind, Domain | None] | None:
    for length in range(min(_LONGEST, len(text) - i), 0, -1):
        word = text[i : i + length]
        if word in lexicon:
            kind, domain = lexicon[word]
            return word, kind, domain
    return None


def _is_break(char: str) -> bool:
    return char.isspace() or (char.isascii() and char.isalnum()) or char in _BREAK_CHARS


def _attach_suffixes(tokens: list[_Token]) -> list[_Token]:
    """环保领域 and 税务局 are one mention; a lone 领域 is filler."""
    result: list[_Token] = []
    for token in tokens:
        if token.kind is not _Kind.SUFFIX:
            result.append(token)
        elif result and result[-1].end == token.start and result[-1].kind in _MENTIONS:
            result[-1].end = token.end  # the span grows; the word matched stays as typed
        else:
            result.append(_Token(_Kind.FILLER, token.start, token.end, token.text))
    return result


# --- fuzzy matching ---------------------------------------------------------------------


def _fuzzy(word: str, cutoff: float) -> tuple[Domain, ...]:
    """Every domain about as close to `word` as the best match, in catalogue order."""
    hits = process.extract(word, _NAMES, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None)
    if not hits:
        return ()
    best = hits[0][1]
    close = {
        _VOCABULARY[name].number: _VOCABULARY[name] for name, score, _ in hits if score >= best - _MARGIN
    }
    return tuple(close[number] for number in sorted(close))


def _absorb_typos(tokens: list[_Token]) -> list[_Token]:
    """Merge a short WORD into the adjacent domain word when together they spell that domain."""
    result: list[_Token] = []
    for token in tokens:
        previous = result[-1] if result else None
        if previous is not None and _absorbs(previous, token):
            result[-1] = _merged(previous, token)
        elif previous is not None and _absorbs(token, previous):
            result[-1] = _merged(previous, token, candidates=token.candidates)
        else:
            result.append(token)
    return result


def _absorbs(domain: _Token, word: _Token) -> bool:
    if domain.kind is not _Kind.DOMAIN or word.kind is not _Kind.WORD or len(word.text) > _MAX_ABSORBED:
        return False
    if domain.end == word.start:
        joined = domain.text + word.text
    elif word.end == domain.start:
        joined = word.text + domain.text
    else:
        return False
    return _fuzzy(joined, _ABSORB_CUTOFF) == domain.candidates


def _merged(first: _Token, second: _Token, candidates: tuple[Domain, ...] = ()) -> _Token:
    return _Token(
        _Kind.DOMAIN,
        first.start,
        second.end,
        first.text + second.text,
        candidates or first.candidates,
    )


def _resolve_words(tokens: list[_Token], reply: bool) -> None:
    """Fuzzy-match WORD tokens; in a sentence, unmatched words outside a list are just text."""
    significant = [t for t in tokens if t.kind is not _Kind.FILLER]
    for index, token in enumerate(significant):
        if token.kind is not _Kind.WORD:
            continue
        if reply or _in_list(significant, index):
            token.candidates = _fuzzy(token.text, _CUTOFF)
            token.reported = True
        else:
            candidates = _fuzzy(token.text, _SENTENCE_CUTOFF)
            token.candidates = candidates if len(candidates) == 1 else ()
            token.reported = bool(token.candidates)


def _in_list(tokens: list[_Token], index: int) -> bool:
    """Whether a word sits in a list of domains or right after an exclusion marker."""
    items = (_Kind.DOMAIN, _Kind.WORD)
    for step in (-1, 1):
        near, far = index + step, index + 2 * step
        if 0 <= far < len(tokens) and tokens[near].kind is _Kind.LIST and tokens[far].kind in items:
            return True
    return index > 0 and tokens[index - 1].kind is _Kind.EXCLUDE_BEFORE


# --- interpretation ---------------------------------------------------------------------

_MARKERS = frozenset({_Kind.ALL, _Kind.ALL_WEAK, _Kind.EXCLUDE_BEFORE, _Kind.EXCLUDE_AFTER})
_ENDS_EXCLUSION = frozenset({_Kind.ALL, _Kind.ALL_WEAK, _Kind.INCLUDE, _Kind.EXCLUDE_AFTER})


def _is_item(token: _Token) -> bool:
    """A domain word, or a leftover word the user must hear about."""
    return token.kind is _Kind.DOMAIN or (token.kind is _Kind.WORD and token.reported)


def _mark_exclusions(tokens: list[_Token]) -> None:
    """除了X / 不要X exclude what follows; X以外 / X之外 exclude the list just before."""
    excluding = False
    since_boundary: list[_Token] = []
    for token in tokens:
        if token.kind is _Kind.EXCLUDE_AFTER:
            for item in since_boundary:
                item.excluded = True
        if token.kind is _Kind.EXCLUDE_BEFORE:
            excluding = True
            since_boundary = []
        elif token.kind in _ENDS_EXCLUSION or token.kind is _Kind.CLAUSE:
            excluding = False
            since_boundary = []
        elif _is_item(token):
            token.excluded = excluding
            since_boundary.append(token)


def _choice(tokens: list[_Token]) -> DomainChoice | None:
    items = [t for t in tokens if _is_item(t)]
    included = {d.number for t in items if not t.excluded and len(t.candidates) == 1 for d in t.candidates}
    excluded = {d.number for t in items if t.excluded and len(t.candidates) == 1 for d in t.candidates}
    unsure_exclusion = any(t.excluded and len(t.candidates) != 1 for t in items)
    kinds = {t.kind for t in tokens}
    any_excluded = bool(excluded) or unsure_exclusion
    all_mode = (
        _Kind.ALL in kinds
        or (_Kind.ALL_WEAK in kinds and (any_excluded or not included))
        or (any_excluded and not included)
    )
    chosen = {d.number for d in DOMAINS} if all_mode else included
    domains = tuple(d for d in DOMAINS if d.number in chosen - excluded)
    ambiguous = dict.fromkeys((t.text, t.candidates) for t in items if len(t.candidates) > 1)
    unknown = dict.fromkeys(t.text for t in items if not t.candidates)
    everything = all_mode and not any_excluded
    if not (domains or ambiguous or unknown or everything):
        return None
    return DomainChoice(
        domains=domains,
        ambiguous=tuple(ambiguous),
        unknown=tuple(unknown),
        everything=everything,
        excluded=tuple(d for d in DOMAINS if d.number in excluded),
    )


def _spans(tokens: list[_Token]) -> list[tuple[int, int]]:
    """Mention spans, with runs joined by list words merged so the caller can cut them out."""
    spans: list[tuple[int, int]] = []
    for token in tokens:
        if _is_item(token) or token.kind in _MARKERS:
            if spans and _joinable(tokens, spans[-1][1], token.start):
                spans[-1] = (spans[-1][0], token.end)
            else:
                spans.append((token.start, token.end))
    return spans


def _joinable(tokens: list[_Token], start: int, end: int) -> bool:
    between = [t for t in tokens if start <= t.start and t.end <= end]
    return all(t.kind is _Kind.LIST or t.text == "的" for t in between)


def _analyse(text: str, reply: bool) -> tuple[DomainChoice | None, list[_Token]]:
    tokens = _absorb_typos(_scan(_fold(text), reply))
    _resolve_words(tokens, reply)
    _mark_exclusions(tokens)
    return _choice(tokens), tokens


def find_domains(text: str) -> tuple[DomainChoice, list[tuple[int, int]]] | None:
    """The domains a longer request mentions, with the spans of those mentions.

    Outside a list (环保、X和税务) unmatched words are ignored rather than reported, since a
    request also holds a company name, a period and greetings.
    """
    choice, tokens = _analyse(text, reply=False)
    if choice is None:
        return None
    return choice, _spans(tokens)


def parse_domains(text: str) -> DomainChoice | None:
    """The domains of a reply that is only a domain list; every leftover word is reported.

    None when the reply holds nothing but filler.
    """
    choice, _ = _analyse(text, reply=True)
    return choice
