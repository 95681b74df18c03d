import pytest

from core.domain_text import DomainChoice, find_domains, parse_domains
from core.domains import DOMAINS, all_names, domain_by_name


def _names(choice: DomainChoice | None) -> list[str]:
    assert choice is not None
    return [d.name for d in choice.domains]


def _all_but(*names: str) -> list[str]:
    return [d.name for d in DOMAINS if d.name not in names]


EMERGENCY = "应急管理（安全生产）"

LISTS = [
    ("环保", ["生态环境"]),
    ("生态环境", ["生态环境"]),
    ("环保、安全生产和税务", ["生态环境", EMERGENCY, "税务"]),
    ("税务和环保", ["生态环境", "税务"]),  # catalogue order, not typing order
    ("环保，税务，公安", ["生态环境", "税务", "公安"]),
    ("环保,税务", ["生态环境", "税务"]),
    ("环保 税务 公安", ["生态环境", "税务", "公安"]),
    ("环保及税务与公安", ["生态环境", "税务", "公安"]),
    ("环保以及税务", ["生态环境", "税务"]),
    ("环保/税务", ["生态环境", "税务"]),
    ("环保还有税务", ["生态环境", "税务"]),
    ("安全生产", [EMERGENCY]),
    ("应急管理（安全生产）", [EMERGENCY]),
    ("应急管理(安全生产)", [EMERGENCY]),
    ("应急管理（安全生产）和税务", [EMERGENCY, "税务"]),
    # canonical names containing 和 stay whole
    ("文化和旅游", ["文化和旅游"]),
    ("粮食和物资储备", ["粮食和物资储备"]),
    ("文化和旅游和粮食和物资储备", ["文化和旅游", "粮食和物资储备"]),
    ("环保和文化和旅游", ["生态环境", "文化和旅游"]),
    ("人力资源和社会保障", ["人力社保"]),
    ("工业和信息化、税务", ["税务", "工业信息化"]),
    # department names and suffixes
    ("住建局", ["住房城乡建设"]),
    ("环保局和税务局", ["生态环境", "税务"]),
    ("环保领域、税务方面", ["生态环境", "税务"]),
    ("市场监管局", ["市场监管"]),
    ("人社", ["人力社保"]),
    ("人社社保", ["人力社保"]),
    ("失信被执行人", ["法院执行"]),
    ("犯罪记录", ["公安"]),
    ("环保和税务都要", ["生态环境", "税务"]),
    ("只要环保", ["生态环境"]),
    ("环保、税务等", ["生态环境", "税务"]),
    ("ＭＡ环保", ["生态环境"]),
    # typos
    ("生太环境", ["生态环境"]),
    ("市场监官", ["市场监管"]),
    ("环报", ["生态环境"]),
    ("安全生厂", [EMERGENCY]),
    ("自然姿源", ["自然资源"]),
    ("交同运输", ["交通运输"]),
    ("农也农村", ["农业农村"]),
    ("税物", ["税务"]),
    ("生太环境和市场监官", ["生态环境", "市场监管"]),
    ("文华和旅游", ["文化和旅游"]),
]


@pytest.mark.parametrize(("text", "expected"), LISTS)
def test_parse_domains_lists(text: str, expected: list[str]) -> None:
    choice = parse_domains(text)
    assert _names(choice) == expected
    assert choice is not None
    assert not choice.everything
    assert choice.ambiguous == ()
    assert choice.unknown == ()
    assert choice.excluded == ()


@pytest.mark.parametrize(
    "text",
    ["全部", "所有领域", "全部领域", "都要", "全部都要", "所有", "40个领域", "各个领域", "全都要", "一切"],
)
def test_everything(text: str) -> None:
    choice = parse_domains(text)
    assert choice is not None
    assert choice.everything
    assert choice.domains == DOMAINS
    assert choice.excluded == ()


def test_everything_wins_over_named_domains() -> None:
    choice = parse_domains("全部领域，尤其是环保")
    assert choice is not None
    assert choice.everything
    assert choice.domains == DOMAINS


@pytest.mark.parametrize(
    ("text", "excluded"),
    [
        ("除了税务都要", ["税务"]),
        ("除税务外全部", ["税务"]),
        ("税务以外的所有领域", ["税务"]),
        ("税务之外的全部", ["税务"]),
        ("不要税务", ["税务"]),
        ("除了税务", ["税务"]),
        ("不包括税务", ["税务"]),
        ("除了税务和公安，其他都要", ["税务", "公安"]),
        ("除了税务、公安以外都要", ["税务", "公安"]),
        ("不要税务和公安", ["税务", "公安"]),
        ("除了文化和旅游都要", ["文化和旅游"]),
        ("除了税物都要", ["税务"]),
        ("全部领域，不要安全生产", [EMERGENCY]),
    ],
)
def test_exclusions(text: str, excluded: list[str]) -> None:
    choice = parse_domains(text)
    assert _names(choice) == _all_but(*excluded)
    assert choice is not None
    assert not choice.everything
    assert [d.name for d in choice.excluded] == excluded


def test_exclusion_next_to_a_list_only_trims_the_list() -> None:
    choice = parse_domains("要环保和税务，不要公安")
    assert _names(choice) == ["生态环境", "税务"]
    assert choice is not None
    assert [d.name for d in choice.excluded] == ["公安"]
    assert not choice.everything


@pytest.mark.parametrize(
    ("text", "word", "candidates"),
    [
        ("卫建", "卫建", ["卫生健康", "住房城乡建设"]),
        ("安全", "安全", ["市场监管", EMERGENCY]),
        ("环保和卫建", "卫建", ["卫生健康", "住房城乡建设"]),
    ],
)
def test_ambiguous_words_are_asked_about(text: str, word: str, candidates: list[str]) -> None:
    choice = parse_domains(text)
    assert choice is not None
    assert [(w, [d.name for d in ds]) for w, ds in choice.ambiguous] == [(word, candidates)]
    assert all(d.name not in candidates for d in choice.domains)


def test_ambiguous_exclusion_does_not_claim_everything() -> None:
    choice = parse_domains("除了卫建都要")
    assert choice is not None
    assert not choice.everything
    assert choice.ambiguous[0][0] == "卫建"


@pytest.mark.parametrize(
    ("text", "domains", "unknown"),
    [
        ("环保和火星", ["生态环境"], ("火星",)),
        ("火星", [], ("火星",)),
        ("火星、水星", ["水利"], ("火星",)),
    ],
)
def test_unknown_words(text: str, domains: list[str], unknown: tuple[str, ...]) -> None:
    choice = parse_domains(text)
    assert _names(choice) == domains
    assert choice is not None
    assert choice.unknown == unknown


@pytest.mark.parametrize("text", ["", "  ", "好的，谢谢", "你好", "全部时间", "近三年", "2024年"])
def test_parse_domains_without_domains(text: str) -> None:
    assert parse_domains(text) is None


@pytest.mark.parametrize(("name", "domain"), list(all_names().items()))
def test_every_name_and_alias_resolves(name: str, domain: object) -> None:
    choice = parse_domains(name)
    assert choice is not None
    assert choice.domains == (domain,)
    found = find_domains(f"帮我开近三年{name}领域和税务的信用报告")
    assert found is not None
    assert set(found[0].domains) == {domain, domain_by_name("税务")}
    assert found[0].unknown == ()
    assert found[0].ambiguous == ()


SENTENCES = [
    ("帮我开近三年环保和安全生产的信用报告", ["生态环境", EMERGENCY], ["环保和安全生产"]),
    ("你好，我要开一份税务的专项信用报告", ["税务"], ["税务"]),
    ("请帮我查一下环保、市场监管方面", ["生态环境", "市场监管"], ["环保、市场监管方面"]),
    ("帮我开近三年环保和市场监官的报告", ["生态环境", "市场监管"], ["环保和市场监官"]),
    ("帮我开近三年市场监官的报告", ["市场监管"], ["市场监官"]),
    ("代码91350100M000100Y43，近一年税务", ["税务"], ["税务"]),
    ("要环保和税务，不要公安", ["生态环境", "税务"], ["环保和税务", "不要公安"]),
    ("帮我开文化和旅游的报告", ["文化和旅游"], ["文化和旅游"]),
]


@pytest.mark.parametrize(("sentence", "expected", "mentions"), SENTENCES)
def test_find_domains_in_sentences(sentence: str, expected: list[str], mentions: list[str]) -> None:
    found = find_domains(sentence)
    assert found is not None
    choice, spans = found
    assert _names(choice) == expected
    assert choice.unknown == ()
    assert choice.ambiguous == ()
    assert [sentence[start:end] for start, end in spans] == mentions


@pytest.mark.parametrize(
    ("sentence", "mentions"),
    [
        ("帮我开全部领域近一年的报告", ["全部领域"]),
        ("所有领域都要，时间是近三年", ["所有领域都要"]),
    ],
)
def test_find_everything_in_sentences(sentence: str, mentions: list[str]) -> None:
    found = find_domains(sentence)
    assert found is not None
    choice, spans = found
    assert choice.everything
    assert [sentence[start:end] for start, end in spans] == mentions


@pytest.mark.parametrize(
    ("sentence", "excluded", "mentions"),
    [
        ("帮我开近三年除了税务都要的报告", ["税务"], ["除了税务都要"]),
        ("近一年，税务以外的所有领域", ["税务"], ["税务以外的所有领域"]),
        ("开个报告，不要税务", ["税务"], ["不要税务"]),
    ],
)
def test_find_exclusions_in_sentences(sentence: str, excluded: list[str], mentions: list[str]) -> None:
    found = find_domains(sentence)
    assert found is not None
    choice, spans = found
    assert _names(choice) == _all_but(*excluded)
    assert [sentence[start:end] for start, end in spans] == mentions


@pytest.mark.parametrize(
    "sentence",
    [
        "帮我开近三年的信用报告",
        "你好",
        "我的代码是91350100M000100Y43",
        "山西晋能煤业有限公司要开报告",
        "全部时间",
        "",
    ],
)
def test_find_domains_finds_nothing(sentence: str) -> None:
    assert find_domains(sentence) is None


def test_sentence_ignores_words_outside_lists() -> None:
    found = find_domains("我们是太原的小店，要环保的报告")
    assert found is not None
    assert _names(found[0]) == ["生态环境"]
    assert found[0].unknown == ()


def test_sentence_reports_unknown_words_inside_a_list() -> None:
    found = find_domains("帮我开环保和火星的报告")
    assert found is not None
    assert _names(found[0]) == ["生态环境"]
    assert found[0].unknown == ("火星",)


def test_typo_with_a_suffix() -> None:
    assert _names(parse_domains("环报领域")) == ["生态环境"]
    assert _names(parse_domains("市场监官局")) == ["市场监管"]


def test_period_words_are_not_domain_words() -> None:
    found = find_domains("帮我开今年上半年和2024年第一季度环保的报告")
    assert found is not None
    assert _names(found[0]) == ["生态环境"]
    assert found[0].unknown == ()
