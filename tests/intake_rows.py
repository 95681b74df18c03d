"""Valid intake rows of every kind, to be varied one field at a time by the intake tests."""

from __future__ import annotations

import csv
from pathlib import Path

from core.intake import HEADERS, IntakeKind

#: Valid codes (check characters computed with core.uscc.make_uscc).
USCC_A = "91140105MA0L2QXW3N"
USCC_B = "92140502MA0JT7YC1M"
USCC_AGENCY = "111405000123456788"
ID_NUMBER = "140502198001011236"
PHONE = "13812345678"

BASE: dict[IntakeKind, dict[str, str]] = {
    IntakeKind.ENTITIES: {
        "统一社会信用代码": USCC_A,
        "主体名称": "山西晋城测试煤业有限公司",
        "主体类型": "企业",
        "法定代表人": "王建国",
        "法定代表人证件号码": ID_NUMBER,
        "联系电话": PHONE,
        "注册地址": "山西省晋城市城区凤台东街100号",
        "成立日期": "2010-03-15",
        "登记机关": "晋城市市场监督管理局",
    },
    IntakeKind.PENALTIES: {
        "行政相对人名称": "山西晋城测试煤业有限公司",
        "行政相对人类别": "法人及非法人组织",
        "统一社会信用代码": USCC_A,
        "法定代表人": "王建国",
        "行政处罚决定书文号": "晋市监罚〔2024〕12号",
        "违法行为类型": "未按规定公示年度报告",
        "违法事实": "该公司未按规定期限公示2023年度报告",
        "处罚依据": "《企业信息公示暂行条例》第十八条",
        "处罚类别": "罚款",
        "处罚内容": "罚款人民币5000元",
        "罚款金额（万元）": "0.5",
        "没收违法所得、没收非法财物的金额（万元）": "",
        "暂扣或吊销证照名称及编号": "",
        "处罚决定日期": "2024-05-10",
        "处罚有效期": "2027-05-10",
        "公示截止期": "2027-05-10",
        "处罚机关": "晋城市市场监督管理局",
        "处罚机关统一社会信用代码": USCC_AGENCY,
        "数据来源单位": "晋城市市场监督管理局",
        "数据来源单位统一社会信用代码": USCC_AGENCY,
        "备注": "",
        "领域": "市场监管",
        "程序类型": "普通程序",
        "记录状态": "有效",
        "修复状态": "未修复",
        "修复日期": "",
    },
    IntakeKind.ENFORCEMENTS: {
        "行政相对人名称": "山西晋城测试煤业有限公司",
        "统一社会信用代码": USCC_A,
        "行政强制决定书文号": "晋城应急强〔2024〕3号",
        "强制类别": "查封场所、设施或者财物",
        "强制内容": "查封井下采掘设备",
        "强制依据": "《中华人民共和国安全生产法》第六十五条",
        "决定日期": "2024-03-01",
        "解除日期": "2024-04-01",
        "实施机关": "晋城市应急管理局",
        "实施机关统一社会信用代码": USCC_AGENCY,
        "数据来源单位": "晋城市应急管理局",
        "数据来源单位统一社会信用代码": USCC_AGENCY,
        "领域": "安全生产",
        "记录状态": "有效",
    },
    IntakeKind.LISTS: {
        "主体名称": "山西晋城测试煤业有限公司",
        "统一社会信用代码": USCC_A,
        "名单名称": "安全生产严重失信主体名单",
        "列入事由": "发生较大生产安全事故",
        "认定依据": "《安全生产严重失信主体名单管理办法》第五条",
        "认定部门": "山西省应急管理厅",
        "列入日期": "2023-06-01",
        "移出日期": "",
        "数据来源单位": "山西省应急管理厅",
        "数据来源单位统一社会信用代码": USCC_AGENCY,
        "领域": "应急管理（安全生产）",
    },
    IntakeKind.JUDGMENTS: {
        "主体名称": "山西晋城测试煤业有限公司",
        "统一社会信用代码": USCC_A,
        "裁判文书号": "（2024）晋0502刑初45号",
        "案由": "重大责任事故罪",
        "判决结果": "判处罚金人民币二十万元",
        "审判法院": "晋城市城区人民法院",
        "判决日期": "2024-08-20",
        "生效日期": "2024-09-05",
        "数据来源单位": "晋城市中级人民法院",
        "数据来源单位统一社会信用代码": USCC_AGENCY,
        "领域": "法院执行",
    },
}


def row(kind: IntakeKind, **changes: str) -> dict[str, str]:
    return {**BASE[kind], **changes}


def write_csv(path: Path, kind: IntakeKind, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS[kind])
        for values in rows:
            writer.writerow([values.get(header, "") for header in HEADERS[kind]])
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))
