"""The 40 domains (领域) of the seed's 附件 table, with the names people really type.

The table is the policy: numbers, names, data scope, responsible units and list names are
copied from it verbatim. The seed writes 人力社保 in its text and 人社社保 in its table; we use
人力社保 as the canonical name (it is the ministry's usual short name) and accept both.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.records import KIND_BY_LABEL, RecordKind
from core.text import FULL_WIDTH_BRACKETS, fold


@dataclass(frozen=True)
class Domain:
    number: int
    name: str
    kinds: frozenset[RecordKind]
    units: tuple[str, ...]
    list_names: tuple[str, ...]

    def holds(self, kind: RecordKind) -> bool:
        """Whether the policy puts this kind of record in this domain's data scope."""
        return kind in self.kinds


# number | name | data scope | responsible units | serious-dishonesty list names
_TABLE = """
1|发展改革|行政处罚、严重失信主体名单|省发展改革委、各市|城市轨道交通规划建设领域黑名单、境外投资黑名单
2|城市管理|行政处罚|各市|
3|自然资源|行政处罚、行政强制、严重失信主体名单|省自然资源厅、各市|矿业权人勘查开采严重失信主体名单、地质勘查单位黑名单、公共资源配置黑名单
4|人力社保|行政处罚、严重失信主体名单|省人社厅、各市|拖欠农民工工资失信联合惩戒对象名单、社会保险领域严重失信主体名单、职称申报评审失信黑名单
5|生态环境|行政处罚|省生态环境厅、各市|
6|市场监管|行政处罚、严重失信主体名单|省市场监管局、省药监局、各市|市场监督管理总局严重违法失信名单、食品安全严重违法生产者黑名单
7|卫生健康|行政处罚、严重失信主体名单|省卫生健康委、省药监局、各市|医药行业失信企业黑名单、医疗卫生行业黑名单
8|文化和旅游|行政处罚、严重失信主体名单|省文旅厅、各市|文化和旅游市场严重失信主体名单
9|应急管理（安全生产）|行政处罚、行政强制、严重失信主体名单|省应急管理厅、国家矿山安监局山西局、各市|安全生产严重失信主体名单
10|住房城乡建设|行政处罚、严重失信主体名单|省住建厅、各市|建筑市场主体黑名单、保障性住房（公租房）使用领域信用黑名单、物业服务企业黑名单、城市轨道交通规划建设领域黑名单
11|科技|行政处罚|省科技厅、各市|
12|交通运输|行政处罚、行政强制、严重失信主体名单|省交通厅、各市|运输物流行业严重失信黑名单、严重违法超限超载运输失信当事人名单
13|税务|行政处罚、行政强制、严重失信主体名单|省税务局、各市|重大税收违法失信主体名单
14|知识产权|行政处罚、严重失信主体名单|省市场监管局、各市|知识产权领域严重违法失信名单
15|水利|行政处罚、行政强制|省水利厅、各市|
16|消防救援|行政处罚、行政强制、严重失信主体名单|省消防总队、各市|消防安全领域黑名单
17|通信管理|行政处罚|省通信管理局|
18|教育|行政处罚、严重失信主体名单|省教育厅、各市|校外培训机构黑名单
19|工业信息化|行政处罚、行政强制、严重失信主体名单|省工信厅、省委网信办、省公安厅、省通信管理局、各市|互联网严重失信名单、电信网络诈骗严重失信主体名单、信息消费领域企业黑名单
20|公安|行政处罚、行政强制、刑事裁判（犯罪记录）|省公安厅、各市|
21|民政|行政处罚、严重失信主体名单|省民政厅、各市|社会组织严重违法失信名单、养老服务领域失信联合惩戒对象名单
22|司法行政|行政处罚|省司法厅、各市|
23|财政|行政处罚、严重失信主体名单|省财政厅、各市|政府采购严重违法失信行为记录名单、注册会计师行业严重失信主体名单、公共资源配置黑名单
24|公积金|行政处罚|省住建厅、省机关事务管理局、各市|
25|农业农村|行政处罚、行政强制|省农业农村厅、各市|
26|商务|行政处罚、严重失信主体名单|省商务厅、各市|境外投资黑名单
27|审计|行政处罚、行政强制|省审计厅、各市|
28|体育|行政处罚|省体育局、各市|
29|统计|行政处罚、严重失信主体名单|省统计局、各市|统计严重失信企业名单
30|金融监管|行政处罚|省地方金融管理局、人民银行山西省分行、山西金融监管局、山西证监局、各市|
31|能源|行政处罚|省能源局、各市|
32|医疗保障|行政处罚、行政强制、严重失信主体名单|省医保局、各市|医疗保障领域失信联合惩戒对象名单、社会保险领域严重失信主体名单
33|粮食和物资储备|行政处罚|省粮食和储备局、各市|
34|林业|行政处罚、行政强制|省林业局、各市|
35|气象|行政处罚|省气象局、各市|
36|邮政|行政处罚、严重失信主体名单|省邮政管理局、各市|快递领域违法失信主体黑名单
37|地震|行政处罚|省地震局、各市|
38|法院执行|严重失信主体名单、刑事裁判|省法院、各市|失信被执行人名单
39|档案管理|行政处罚|省档案局、各市|
40|国防义务|严重失信主体名单|省军区动员局、各市|履行国防义务严重失信主体名单
"""


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part for part in cell.split("、") if part)


def _parse_table() -> tuple[Domain, ...]:
    domains = []
    for line in _TABLE.strip().splitlines():
        number, name, scope, units, lists = line.split("|")
        domains.append(
            Domain(
                number=int(number),
                name=name,
                kinds=frozenset(KIND_BY_LABEL[label] for label in _split(scope)),
                units=_split(units),
                list_names=_split(lists),
            )
        )
    return tuple(domains)


DOMAINS: tuple[Domain, ...] = _parse_table()
_BY_NUMBER = {d.number: d for d in DOMAINS}
_BY_NAME = {d.name: d for d in DOMAINS}

#: Names people type for a domain, beyond its canonical name. Keys are normalised (see `normalize`).
ALIASES: dict[str, str] = {
    "发改": "发展改革",
    "发展和改革": "发展改革",
    "发展改革委": "发展改革",
    "城管": "城市管理",
    "城市管理执法": "城市管理",
    "国土": "自然资源",
    "国土资源": "自然资源",
    "规划和自然资源": "自然资源",
    "人社社保": "人力社保",
    "人社": "人力社保",
    "人力资源和社会保障": "人力社保",
    "人力资源社会保障": "人力社保",
    "人力资源": "人力社保",
    "社保": "人力社保",
    "劳动保障": "人力社保",
    "欠薪": "人力社保",
    "环保": "生态环境",
    "环境保护": "生态环境",
    "环境": "生态环境",
    "生态": "生态环境",
    "工商": "市场监管",
    "市场监督管理": "市场监管",
    "市监": "市场监管",
    "质监": "市场监管",
    "食药监": "市场监管",
    "药监": "市场监管",
    "食品安全": "市场监管",
    "卫健": "卫生健康",
    "卫生": "卫生健康",
    "卫生健康委": "卫生健康",
    "卫计": "卫生健康",
    "文旅": "文化和旅游",
    "文化旅游": "文化和旅游",
    "文化": "文化和旅游",
    "旅游": "文化和旅游",
    "应急管理": "应急管理（安全生产）",
    "应急": "应急管理（安全生产）",
    "安全生产": "应急管理（安全生产）",
    "安监": "应急管理（安全生产）",
    "安全监管": "应急管理（安全生产）",
    "煤矿安全": "应急管理（安全生产）",
    "矿山安全": "应急管理（安全生产）",
    "住建": "住房城乡建设",
    "住房和城乡建设": "住房城乡建设",
    "住房城乡建设": "住房城乡建设",
    "建筑": "住房城乡建设",
    "建设": "住房城乡建设",
    "房地产": "住房城乡建设",
    "物业": "住房城乡建设",
    "科学技术": "科技",
    "交通": "交通运输",
    "运输": "交通运输",
    "交管": "交通运输",
    "物流": "交通运输",
    "税": "税务",
    "税收": "税务",
    "纳税": "税务",
    "国税": "税务",
    "地税": "税务",
    "专利": "知识产权",
    "商标": "知识产权",
    "版权": "知识产权",
    "水务": "水利",
    "消防": "消防救援",
    "通信": "通信管理",
    "通讯": "通信管理",
    "电信": "通信管理",
    "教育培训": "教育",
    "工信": "工业信息化",
    "工业和信息化": "工业信息化",
    "工业": "工业信息化",
    "网信": "工业信息化",
    "互联网": "工业信息化",
    "警察": "公安",
    "派出所": "公安",
    "治安": "公安",
    "犯罪记录": "公安",
    "社会组织": "民政",
    "养老": "民政",
    "司法": "司法行政",
    "司法局": "司法行政",
    "政府采购": "财政",
    "会计": "财政",
    "住房公积金": "公积金",
    "农业": "农业农村",
    "农村": "农业农村",
    "农牧": "农业农村",
    "商务局": "商务",
    "外贸": "商务",
    "审计局": "审计",
    "体育局": "体育",
    "统计局": "统计",
    "金融": "金融监管",
    "银行": "金融监管",
    "银保监": "金融监管",
    "证监": "金融监管",
    "证券": "金融监管",
    "保险": "金融监管",
    "电力": "能源",
    "煤炭": "能源",
    "能源局": "能源",
    "医保": "医疗保障",
    "医疗": "医疗保障",
    "粮食": "粮食和物资储备",
    "物资储备": "粮食和物资储备",
    "储备": "粮食和物资储备",
    "林草": "林业",
    "林业和草原": "林业",
    "森林": "林业",
    "气象局": "气象",
    "快递": "邮政",
    "邮政管理": "邮政",
    "地震局": "地震",
    "防震减灾": "地震",
    "法院": "法院执行",
    "失信被执行人": "法院执行",
    "被执行人": "法院执行",
    "老赖": "法院执行",
    "执行": "法院执行",
    "档案": "档案管理",
    "国防": "国防义务",
    "兵役": "国防义务",
    "征兵": "国防义务",
}

_SUFFIXES = ("领域", "方面", "部门", "类")


def normalize(text: str) -> str:
    """Fold full-width forms, drop spaces and trailing words like 领域 that people add."""
    folded = "".join(fold(text).split())
    for ascii_bracket, full_width in FULL_WIDTH_BRACKETS.items():
        folded = folded.replace(ascii_bracket, full_width)
    for suffix in _SUFFIXES:
        if folded.endswith(suffix) and len(folded) > len(suffix):
            folded = folded[: -len(suffix)]
    return folded


def domain_by_number(number: int) -> Domain:
    return _BY_NUMBER[number]


def domain_by_name(name: str) -> Domain:
    """The domain with this exact canonical name (KeyError otherwise)."""
    return _BY_NAME[name]


def resolve_domain(text: str) -> Domain | None:
    """The domain a user or a department means by `text`: canonical name or alias, else None."""
    key = normalize(text)
    if key in _BY_NAME:
        return _BY_NAME[key]
    canonical = ALIASES.get(key)
    return _BY_NAME[canonical] if canonical else None


def all_names() -> dict[str, Domain]:
    """Every canonical name and alias, mapped to its domain: the vocabulary for fuzzy matching."""
    names = {d.name: d for d in DOMAINS}
    names.update({alias: _BY_NAME[canonical] for alias, canonical in ALIASES.items()})
    return names
