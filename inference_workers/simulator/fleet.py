"""The fleet's registry (operators, kitchens, districts, stations, opening hours) and
the seeded random streams every camera draws from.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from inference_workers.simulator.config import FleetConfig
from schemas.records import SCHEMA_VERSION, RegistryEntry

try:
    from zoneinfo import ZoneInfo

    _SHANGHAI: Any = ZoneInfo("Asia/Shanghai")
except Exception:  # no tz database: China has kept UTC+8 without DST since 1991
    _SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


_DISTRICTS: dict[str, tuple[str, ...]] = {
    "锦江区": ("春熙路", "盐市口", "东大街"),
    "青羊区": ("草市街", "府南", "少城"),
    "金牛区": ("驷马桥", "荷花池", "茶店子"),
    "武侯区": ("火车南站", "玉林", "红牌楼"),
    "成华区": ("建设路", "猛追湾", "双桥子"),
    "高新区": ("桂溪", "芳草", "中和"),
    "双流区": ("东升", "西航港", "九江"),
}
_BRANDS = (
    "蜀香", "金鼎", "红杏", "老码头", "天府", "锦城", "蓉城", "香满楼", "福满园", "味之源",
    "巴蜀人家", "小龙坎", "陈麻婆", "钟水饺", "龙抄手", "谭豆花", "大蓉和", "银杏",
)  # fmt: skip
_COMPANY_SUFFIX = ("餐饮管理有限公司", "餐饮有限公司", "食品有限公司", "酒家")
_SCHOOLS = ("实验小学", "外国语学校", "第七中学", "树德中学", "师范附属小学", "石室中学")
_KITCHEN_NAMES = ("总店", "分店", "中央厨房", "旗舰店", "二店", "三店")

# (kind, weight, opening hours, cameras per kitchen)
_KITCHEN_KINDS: tuple[tuple[str, float, list[list[str]], tuple[int, int]], ...] = (
    ("all_day", 0.45, [["06:00", "21:00"]], (2, 4)),
    ("late", 0.10, [["07:00", "22:00"]], (2, 4)),
    ("central", 0.10, [["05:00", "20:00"]], (3, 6)),
    ("canteen", 0.25, [["06:00", "09:00"], ["10:30", "13:30"], ["16:00", "19:30"]], (2, 4)),
    ("restaurant", 0.10, [["09:30", "14:00"], ["16:30", "22:00"]], (2, 3)),
)


def _local_intervals(
    hours: list[list[str]], start_ts: float, end_ts: float
) -> list[tuple[float, float]]:
    """Opening intervals (Unix seconds) covering [start_ts, end_ts], in Asia/Shanghai."""
    out: list[tuple[float, float]] = []
    day0 = datetime.fromtimestamp(start_ts, _SHANGHAI).date() - timedelta(days=1)
    day1 = datetime.fromtimestamp(end_ts, _SHANGHAI).date() + timedelta(days=1)
    day = day0
    while day <= day1:
        midnight = datetime(day.year, day.month, day.day, tzinfo=_SHANGHAI).timestamp()
        for a, b in hours:
            ha, ma = map(int, a.split(":"))
            hb, mb = map(int, b.split(":"))
            out.append((midnight + ha * 3600 + ma * 60, midnight + hb * 3600 + mb * 60))
        day += timedelta(days=1)
    return sorted(out)


def _rng(seed: int, *parts: object) -> random.Random:
    # String seeds are hashed with SHA-512: stable across processes and versions.
    return random.Random(":".join(map(str, (seed, *parts))))


def _np_rng(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed, *parts])


def _build_registry(config: FleetConfig) -> list[tuple[RegistryEntry, str]]:
    """One registry entry per camera (and the kitchen kind), deterministic in the seed."""
    rng = _rng(config.seed, "registry")
    out: list[tuple[RegistryEntry, str]] = []
    districts = list(_DISTRICTS)
    op_no = 0
    kitchen_no = 0
    weights = [k[1] for k in _KITCHEN_KINDS]
    while len(out) < config.cameras:
        op_no += 1
        district = rng.choice(districts)
        first_kind = rng.choices(_KITCHEN_KINDS, weights)[0]
        if first_kind[0] == "canteen":
            op_name = f"成都市{rng.choice(_SCHOOLS)}（{district}）"
            n_kitchens = 1
        else:
            op_name = f"成都{rng.choice(_BRANDS)}{rng.choice(_COMPANY_SUFFIX)}"
            n_kitchens = rng.choice((1, 1, 2, 3))
        for k in range(n_kitchens):
            kitchen_no += 1
            kind = (
                first_kind
                if k == 0 or first_kind[0] == "canteen"
                else rng.choices(_KITCHEN_KINDS[:3], weights[:3])[0]
            )
            kdistrict = district if k == 0 else rng.choice(districts)
            station = f"{kdistrict}{rng.choice(_DISTRICTS[kdistrict])}市场监管所"
            for _ in range(rng.randint(*kind[3])):
                if len(out) >= config.cameras:
                    break
                cam_no = len(out) + 1
                entry = RegistryEntry(
                    v=SCHEMA_VERSION,
                    camera_id=f"cam-{cam_no:05d}",
                    kitchen_id=f"kit-{kitchen_no:04d}",
                    operator_id=f"op-{op_no:04d}",
                    operator_name=op_name,
                    district=kdistrict,
                    station=station,
                    opening_hours=[list(h) for h in kind[2]],
                )
                out.append((entry, kind[0]))
    return out
