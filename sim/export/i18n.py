"""Labels of the map, the report and the figures in English and Simplified Chinese.

Every text a planner reads in ``map.html``, ``report.html`` or a figure comes from
:data:`LABELS` through :func:`label`; metric names come from :func:`metric_label`.
The language is ``output.language`` of the scenario (``"en"`` or ``"zh"``) unless a
caller overrides it.

The strings here are trusted (they are ours); strings from OpenStreetMap or the user
(site, zone and strategy names) never go through this module and are escaped where
they are written.
"""

from __future__ import annotations

from typing import Final, Literal, cast

__all__ = [
    "LABELS",
    "LANGUAGES",
    "METRIC_LABELS",
    "OUTCOME_LABELS",
    "Language",
    "all_labels",
    "label",
    "metric_label",
    "outcome_label",
    "resolve_language",
]

Language = Literal["en", "zh"]

#: Supported languages.
LANGUAGES: Final[tuple[Language, ...]] = ("en", "zh")

#: Label key -> {language: text}.  ``{name}``-style fields are filled by :func:`label`.
LABELS: Final[dict[str, dict[str, str]]] = {
    # ----------------------------------------------------------------- map
    "map_title": {"en": "Charging sites: {scenario}", "zh": "充电站选址：{scenario}"},
    "strategy_layer": {"en": "Strategy: {name}", "zh": "方案：{name}"},
    "candidates_layer": {"en": "Candidate sites", "zh": "候选站点"},
    "loading_layer": {
        "en": "{name}: compounds by peak transformer loading",
        "zh": "{name}：小区变压器峰值负载率",
    },
    "kva": {"en": "Transformer (kVA)", "zh": "变压器容量（kVA）"},
    "peak_loading_pct": {"en": "Peak loading", "zh": "峰值负载率"},
    "hours_above_100pct": {"en": "Hours above 100%", "zh": "超过 100% 的小时数"},
    "home_energy_not_delivered_kwh": {
        "en": "Home energy not delivered (kWh)",
        "zh": "未送达家用电量（千瓦时）",
    },
    "roads_layer": {"en": "Roads", "zh": "道路"},
    "osm_tiles": {"en": "OpenStreetMap tiles (online)", "zh": "OpenStreetMap 底图（需联网）"},
    "legend_title": {"en": "Legend", "zh": "图例"},
    "legend_zones": {
        "en": "Zone colour: sessions not served",
        "zh": "居住区颜色：未获服务的充电需求占比",
    },
    "legend_zones_hint": {
        "en": "share of the zone's charging sessions that found no charger",
        "zh": "区内未能充上电的充电需求所占比例",
    },
    "legend_sites": {"en": "Site colour: port utilisation", "zh": "站点颜色：充电桩利用率"},
    "legend_sites_hint": {"en": "share of port time in use", "zh": "充电桩被占用的时间比例"},
    "legend_phases": {"en": "Site colour: year built", "zh": "站点颜色：建设年份"},
    "legend_phases_hint": {
        "en": "phased plan: sites built in a phase stay in later ones",
        "zh": "分阶段规划：前期建成的站点在后续阶段保留",
    },
    "legend_existing": {"en": "existing station", "zh": "既有充电站"},
    "legend_size": {"en": "Circle size: ports", "zh": "圆圈大小：充电桩数"},
    "legend_candidates": {"en": "Candidate site (not chosen)", "zh": "候选站点（未选中）"},
    "legend_no_data": {"en": "no sessions", "zh": "无充电需求"},
    "legend_swap": {
        "en": "Battery-swap station (diamond; click for its packs)",
        "zh": "换电站（菱形；点击查看电池包）",
    },
    "legend_toggle": {
        "en": "Use the layer control (top right) to switch strategies on and off.",
        "zh": "用右上角的图层控件切换各方案。",
    },
    # popup / site fields
    "site_id": {"en": "Site id", "zh": "站点编号"},
    "site_name": {"en": "Name", "zh": "名称"},
    "site_kind": {"en": "Kind", "zh": "类型"},
    "strategy": {"en": "Strategy", "zh": "方案"},
    "ports": {"en": "Ports", "zh": "充电桩数"},
    "power_kw": {"en": "Power per port (kW)", "zh": "单桩功率（kW）"},
    "utilization": {"en": "Utilisation", "zh": "利用率"},
    "energy_kwh_per_day": {"en": "Energy (kWh/day)", "zh": "日供电量（kWh/天）"},
    "sessions_charged_per_day": {"en": "Sessions charged per day", "zh": "日充电次数"},
    "wait_mean_min": {"en": "Mean wait (min)", "zh": "平均排队时间（分钟）"},
    "wait_p95_min": {"en": "95th percentile wait (min)", "zh": "排队时间 95% 分位数（分钟）"},
    "existing": {"en": "Existing station", "zh": "既有充电站"},
    "swap_station": {"en": "Battery-swap station", "zh": "换电站"},
    "bays": {"en": "Swap bays", "zh": "换电工位数"},
    "packs": {"en": "Battery packs", "zh": "电池包数"},
    "pack_chargers": {"en": "Pack chargers", "zh": "电池包充电机数"},
    "swaps_per_day": {"en": "Swaps per day", "zh": "日换电次数"},
    "pack_availability": {
        "en": "Charged pack in stock (share of time)",
        "zh": "有满电电池包的时间占比",
    },
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "rank": {"en": "Rank", "zh": "排名"},
    "selected_by": {"en": "Chosen by", "zh": "被以下方案选中"},
    "sessions_per_day_in_radius": {
        "en": "Sessions/day within radius",
        "zh": "服务半径内日充电需求（次）",
    },
    "households_in_radius": {"en": "Households within radius", "zh": "服务半径内户数"},
    "zone_id": {"en": "Zone id", "zh": "居住区编号"},
    "zone_name": {"en": "Zone", "zh": "居住区"},
    "households": {"en": "Households", "zh": "户数"},
    "evs": {"en": "EVs", "zh": "电动汽车"},
    "evs_no_home": {"en": "EVs without home charging", "zh": "无家用充电桩的电动汽车"},
    "demand_kwh_per_day": {"en": "Public demand (kWh/day)", "zh": "公共充电需求（kWh/天）"},
    "access_min": {"en": "Drive to nearest charger (min)", "zh": "到最近充电站车程（分钟）"},
    "served_share": {"en": "Sessions served", "zh": "获服务的充电需求占比"},
    "unserved": {"en": "Not served", "zh": "未获服务占比"},
    "none": {"en": "none", "zh": "无"},
    "unnamed": {"en": "(unnamed)", "zh": "（未命名）"},
    # ----------------------------------------------------------------- report: answer
    "sec_answer": {"en": "The answer", "zh": "结论"},
    "answer_best": {
        "en": "{name} has the lowest charging difficulty: {value} on the 0–100 index{ci}.",
        "zh": "{name} 的充电难度最低：难度指数 {value}（0–100）{ci}。",
    },
    "answer_ci": {"en": " (95% interval {lo} – {hi})", "zh": "，95% 置信区间 {lo} – {hi}"},
    "answer_runner_up": {
        "en": "Against the runner-up, {other} ({other_value}), it is {diff} points lower: "
        "paired difference over {reps} replications with the same demand, 95% interval "
        "{lo} – {hi}.",
        "zh": "与次优方案 {other}（{other_value}）相比低 {diff} 点：{reps} 次重复、相同需求下的"
        "配对差值，95% 置信区间 {lo} – {hi}。",
    },
    "answer_runner_up_noci": {
        "en": "Against the runner-up, {other} ({other_value}), it is {diff} points lower "
        "(one replication: no interval).",
        "zh": "与次优方案 {other}（{other_value}）相比低 {diff} 点（仅一次重复，无置信区间）。",
    },
    "answer_significant": {
        "en": "The interval excludes 0: the replications tell the two plans apart.",
        "zh": "区间不含 0：两方案的差异在统计上可分辨。",
    },
    "answer_not_significant": {
        "en": "The interval includes 0: the replications cannot tell the two plans apart; "
        "more replications (simulation.replications) narrow it.",
        "zh": "区间包含 0：现有重复次数下两方案无法区分，可增加重复次数"
        "（simulation.replications）。",
    },
    "answer_cost": {
        "en": "It costs {cost} CNY ({sites} sites, {ports} ports).",
        "zh": "投资 {cost} 元（{sites} 个站点，{ports} 个充电桩）。",
    },
    "answer_no_cost": {"en": "It needs no new sites (no cost).", "zh": "无需新建站点（无投资）。"},
    "answer_per_million": {
        "en": "Against {base} ({base_value}, no new sites) it removes {points} difficulty "
        "points per million CNY.",
        "zh": "与不新建站点的 {base}（{base_value}）相比，每百万元投资降低充电难度 {points} 点。",
    },
    "answer_no_baseline": {
        "en": "To see the difficulty removed per million CNY, add a strategy without new "
        "sites (- name: existing).",
        "zh": "如需计算每百万元投资降低的难度，请添加不新建站点的方案（- name: existing）。",
    },
    "answer_none": {
        "en": "No plan has a charging difficulty index (no charging session was simulated).",
        "zh": "没有方案得到充电难度指数（未模拟到任何充电需求）。",
    },
    "no_public_chargers": {"en": "no public chargers", "zh": "无公共充电设施"},
    "plans_without_chargers": {
        "en": "Plans with no public chargers",
        "zh": "无公共充电设施的方案",
    },
    "vs_best": {"en": "Difference to {best} (paired)", "zh": "与 {best} 的差值（配对）"},
    "per_million": {
        "en": "Difficulty removed per million CNY (vs {base})",
        "zh": "每百万元降低的难度（相对 {base}，点）",
    },
    "per_million_row": {
        "en": "Difficulty removed per million CNY",
        "zh": "每百万元降低的难度（点）",
    },
    "answer_note": {
        "en": "Difficulty index: 0 = charging is easy, 100 = impossible (waits, sessions not "
        "served, vehicles stranded, drives to a charger; see the comparison below). The "
        "difference to the best plan is taken replication by replication (every plan saw "
        "the same demand). Difficulty removed per million CNY: the index of the plan "
        "without new sites minus the plan's index, divided by the plan's cost in millions "
        "of CNY.",
        "zh": "充电难度指数：0 = 充电容易，100 = 无法充电（综合排队、未获服务、电量耗尽与到站车程，"
        "见下方方案比较）。与最优方案的差值为逐次重复计算（各方案面对相同需求）。每百万元降低的难度："
        "不新建站点方案的指数减去该方案的指数，除以该方案投资（百万元）。",
    },
    # ----------------------------------------------------------------- report
    "report_title": {
        "en": "Charging difficulty report: {scenario}",
        "zh": "充电难度评估报告：{scenario}",
    },
    "generated_by": {
        "en": "Generated by chargesite {version}. Self-contained: no network access needed.",
        "zh": "由 chargesite {version} 生成。本文件自包含，无需联网。",
    },
    "contents": {"en": "Contents", "zh": "目录"},
    "sec_scenario": {"en": "Scenario", "zh": "情景概况"},
    "sec_comparison": {"en": "Strategy comparison", "zh": "方案比较"},
    "sec_paired": {"en": "Paired differences between strategies", "zh": "方案间配对差值"},
    "favours": {"en": "favours {name}", "zh": "{name} 更优"},
    "sec_outcomes": {"en": "How sessions ended", "zh": "充电需求结果"},
    "outcomes_note": {
        "en": "Share of charging sessions by how their last attempt ended (all replications).",
        "zh": "按最后一次尝试的结果统计的充电需求占比（所有重复）。",
    },
    "outcome": {"en": "Outcome", "zh": "结果"},
    "sec_figures": {"en": "Figures", "zh": "图表"},
    "sec_maps": {"en": "Maps of each strategy", "zh": "各方案地图"},
    "sec_sites": {"en": "Chosen sites", "zh": "选中站点"},
    "sec_swap": {"en": "Charge and swap", "zh": "充电与换电"},
    "swap_note": {
        "en": "Plans with battery-swap stations against charging-only plans: swaps done and "
        "the share of time a charged pack was in stock (means over replications), each "
        "fleet's working time lost to driving to stations and waiting (min and CNY per "
        "vehicle and day), and the difficulty index of each demand segment.",
        "zh": "含换电站的方案与纯充电方案对比：换电次数、有满电电池包的时间占比（各次重复的均值），"
        "各车队因前往站点和排队损失的运营时间（每车每天，分钟与元），以及各类需求的充电难度指数。",
    },
    "swap_stations": {"en": "Swap stations", "zh": "换电站数"},
    "fleet_lost": {
        "en": "Fleets' lost time per vehicle-day",
        "zh": "车队每车每天损失的运营时间",
    },
    "segment_difficulty": {"en": "Difficulty by segment", "zh": "各类需求的充电难度"},
    "fleet_lost_value": {
        "en": "{fleet}: {minutes} min = {cny} CNY",
        "zh": "{fleet}：{minutes} 分钟 = {cny} 元",
    },
    "segment_fleet": {"en": "fleet", "zh": "车队"},
    "swap_per_million": {
        "en": "Difficulty points removed per million CNY",
        "zh": "每百万元降低的难度指数",
    },
    "sec_holiday": {"en": "Holiday operations", "zh": "节假日运营措施"},
    "holiday_note": {
        "en": "On the peak day (day {day}), at the busiest service area of the first plan "
        "({site}, every station there counted): the mean and 95th-percentile wait of the "
        "vehicles that queued, the vehicles that ran flat (all days), and each plan's "
        "paired difference against {base}, replication by replication (95% intervals).",
        "zh": "高峰日（第 {day} 天）第一个方案最繁忙的服务区（{site}，计入该处所有站点）："
        "排队车辆的平均与 95% 分位等待时间、电量耗尽的车辆数（全部天数），以及各方案相对 {base} "
        "的逐次配对差值（95% 区间）。",
    },
    "busiest_wait": {"en": "Mean wait (min)", "zh": "平均等待（分钟）"},
    "busiest_p95": {"en": "95th-percentile wait (min)", "zh": "95% 分位等待（分钟）"},
    "run_flat": {"en": "Vehicles run flat", "zh": "电量耗尽车辆"},
    "wait_vs_base": {"en": "Wait vs first plan", "zh": "等待相对第一方案"},
    "flat_vs_base": {"en": "Run flat vs first plan", "zh": "耗尽相对第一方案"},
    "sec_grid": {"en": "Compound power", "zh": "小区配电"},
    "grid_note": {
        "en": "Each compound's transformer carries its households' base load, home charging "
        "and the public chargers sited in it (means over replications): the peak loading "
        "of the most loaded compound (% of kVA at the power factor), the share of compounds "
        "whose peak is above 100%, home charging energy that could not be delivered, and "
        "the mean price paid per kWh at home and at public chargers (time-of-use tariff and "
        "service fee). Grid stress enters the difficulty index only through slower public "
        "charging in saturated compounds.",
        "zh": "每个小区的变压器承担居民基础负荷、家用充电以及小区内的公共充电桩（各次重复的均值）："
        "负载最高小区的峰值负载率（按功率因数折算的 kVA 百分比）、峰值超过 100% 的小区占比、"
        "未能送达的家用充电电量，以及家用与公共充电的平均电价（分时电价与服务费）。"
        "配电压力仅通过饱和小区内公共充电变慢计入充电难度指数。",
    },
    "grid_control": {"en": "Control", "zh": "充电控制"},
    "grid_per_million": {
        "en": "Difficulty lowered per million CNY more than the first plan",
        "zh": "比第一方案每多投资百万元降低的难度",
    },
    "peak_loading": {"en": "Peak loading (%)", "zh": "峰值负载率（%）"},
    "overloaded": {"en": "Compounds overloaded", "zh": "过载小区占比"},
    "home_not_delivered": {
        "en": "Home energy not delivered (kWh)",
        "zh": "未送达家用电量（千瓦时）",
    },
    "price_home_public": {
        "en": "CNY/kWh home / public",
        "zh": "家用 / 公共电价（元/千瓦时）",
    },
    "sec_sweep": {"en": "Sensitivity sweep", "zh": "敏感性分析"},
    "sec_provenance": {"en": "Provenance", "zh": "数据与版本来源"},
    "sec_notes": {"en": "Region notes", "zh": "区域数据说明"},
    "scenario_name": {"en": "Scenario", "zh": "情景"},
    "region": {"en": "Region", "zh": "区域"},
    "days": {"en": "Simulated days", "zh": "模拟天数"},
    "replications": {"en": "Replications", "zh": "重复次数"},
    "seed": {"en": "Seed", "zh": "随机种子"},
    "crs": {"en": "Projected CRS", "zh": "投影坐标系"},
    "n_zones": {"en": "Residential zones", "zh": "居住区数"},
    "n_candidates": {"en": "Candidate sites", "zh": "候选站点数"},
    "total_households": {"en": "Households", "zh": "总户数"},
    "total_evs": {"en": "EVs", "zh": "电动汽车总数"},
    "total_evs_no_home": {"en": "EVs without home charging", "zh": "无家用充电桩的电动汽车"},
    "total_demand_kwh_per_day": {
        "en": "Expected public demand (kWh/day)",
        "zh": "预期公共充电需求（kWh/天）",
    },
    "sessions_per_replication": {
        "en": "Charging sessions per replication",
        "zh": "每次重复的充电需求（次）",
    },
    "metric": {"en": "Metric", "zh": "指标"},
    "mean_ci": {"en": "mean [95% interval]", "zh": "均值 [95% 置信区间]"},
    "better": {"en": "better", "zh": "更优"},
    "lower_better": {"en": "lower is better", "zh": "越低越好"},
    "higher_better": {"en": "higher is better", "zh": "越高越好"},
    "sites": {"en": "Sites", "zh": "站点数"},
    "total_ports": {"en": "Ports", "zh": "充电桩数"},
    "cost_cny": {"en": "Cost (CNY)", "zh": "投资（元）"},
    "model": {"en": "Model", "zh": "选址模型"},
    "comparison_note": {
        "en": "Means over replications with Student-t 95% intervals; every strategy saw "
        "the same simulated demand in each replication (common random numbers). "
        "The best mean of each row is in bold.",
        "zh": "表中为各次重复的均值及 t 分布 95% 置信区间；每次重复中各方案面对相同的"
        "模拟需求（共同随机数）。每行最优均值以粗体标出。",
    },
    "paired_note": {
        "en": "Each strategy minus the plan with the lowest difficulty ({best}), taken "
        "replication by replication (every strategy saw the same demand): mean difference "
        "with a paired Student-t 95% interval. Bold: the interval excludes 0, a difference "
        "the replications can tell apart.",
        "zh": "各方案减去充电难度最低的方案（{best}），逐次重复计算（各方案面对相同需求）的差值"
        "均值及配对 t 分布 95% 置信区间。粗体：区间不含 0，即差异在统计上可分辨。",
    },
    "no_interval": {"en": "n/a", "zh": "无"},
    "fig_wait": {"en": "Waiting time per strategy", "zh": "各方案排队时间分布"},
    "fig_wait_caption": {
        "en": "Time in the queue of attempts that joined one (box: quartiles, whiskers: "
        "5th-95th percentile, diamond: mean).",
        "zh": "排队充电尝试的等待时间（箱体：四分位数；须线：5%–95% 分位数；菱形：均值）。",
    },
    "fig_queue": {"en": "Queue length by hour of day", "zh": "各时段排队车辆数"},
    "fig_queue_caption": {
        "en": "Mean number of vehicles waiting, summed over a strategy's stations, by hour "
        "of day (all days and replications); dashed: the busiest station alone.",
        "zh": "按一天中各小时统计的平均排队车辆数（各站合计，所有天数与重复取平均）；"
        "虚线：排队最长的单站。",
    },
    "fig_queue_timeline": {
        "en": "Queue over time at the busiest site",
        "zh": "最繁忙站点排队长度随时间变化",
    },
    "fig_queue_timeline_caption": {
        "en": "Most vehicles waiting at once in each hour (steps) and the hourly mean "
        "(dotted) at each strategy's busiest site, over the whole simulated period, mean "
        "over replications; holiday days shaded.",
        "zh": "各方案最繁忙站点在整个模拟期内每小时的最大排队车辆数（阶梯线）与小时均值（点线），"
        "取各次重复的平均；节假日以底色标出。",
    },
    "axis_hours_from_start": {"en": "Hours from the start", "zh": "自开始起的小时数"},
    "fig_util": {"en": "Utilisation by site and hour", "zh": "各站点分时利用率"},
    "fig_util_caption": {
        "en": "Share of port time in use, by site and hour of day (mean over days and "
        "replications).",
        "zh": "各站点在一天中各小时的充电桩占用比例（所有天数与重复取平均）。",
    },
    "fig_sweep": {"en": "Charging difficulty vs {key}", "zh": "充电难度随 {key} 的变化"},
    "fig_phases": {"en": "Charging difficulty by phase", "zh": "各阶段充电难度"},
    "fig_phases_caption": {
        "en": "Difficulty index in each phase of the phased plan (mean over replications, "
        "95% interval); every site built in a phase stays in the later ones.",
        "zh": "分阶段规划中各阶段的充电难度指数（各次重复的平均值与95%置信区间）；"
        "前一阶段建成的站点在后续阶段保留。",
    },
    "axis_year": {"en": "Year", "zh": "年份"},
    "phase_built": {"en": "Built in", "zh": "建设年份"},
    "fig_map": {"en": "Map: {name}", "zh": "地图：{name}"},
    "fig_map_caption": {
        "en": "Residential zones coloured by the share of their sessions not served; "
        "chosen sites sized by ports and coloured by port utilisation.",
        "zh": "居住区颜色表示未获服务的充电需求占比；站点大小表示充电桩数，颜色表示利用率。",
    },
    "no_sites": {"en": "This strategy has no sites.", "zh": "该方案没有站点。"},
    "no_data": {"en": "No data.", "zh": "无数据。"},
    "no_notes": {"en": "No notes.", "zh": "无说明。"},
    "fig_font_note": {
        "en": "",
        "zh": "注：未安装中文字体包，图中标注使用英文（pip install justmytype-intl-cjk）。",
    },
    "baseline": {"en": "baseline", "zh": "基准"},
    "segment_residential": {"en": "residential", "zh": "居住区"},
    "segment_highway": {"en": "highway", "zh": "高速公路"},
    "sweep_value": {"en": "Swept value", "zh": "取值"},
    "python": {"en": "Python", "zh": "Python"},
    "package": {"en": "Package", "zh": "软件包"},
    "version": {"en": "Version", "zh": "版本"},
    "data_file": {"en": "Data", "zh": "数据"},
    "sha256": {"en": "SHA-256", "zh": "SHA-256"},
    "map_data_credit": {
        "en": "Map data © OpenStreetMap contributors (ODbL).",
        "zh": "地图数据 © OpenStreetMap contributors（ODbL 许可）。",
    },
    # ----------------------------------------------------------------- figures
    "axis_wait_min": {"en": "Wait (min)", "zh": "排队时间（分钟）"},
    "axis_hour": {"en": "Hour of day", "zh": "时刻（时）"},
    "axis_queue": {"en": "Vehicles waiting", "zh": "排队车辆数"},
    "axis_site": {"en": "Site", "zh": "站点"},
    "axis_difficulty": {"en": "Difficulty index (0-100)", "zh": "充电难度指数（0–100）"},
    "axis_unserved": {
        "en": "Zones: sessions not served (share)",
        "zh": "居住区：未获服务的充电需求占比",
    },
    "axis_utilisation": {
        "en": "Sites: port utilisation (share)",
        "zh": "站点：充电桩利用率",
    },
    "busiest_station": {"en": "busiest station", "zh": "最繁忙单站"},
    "all_stations": {"en": "all stations", "zh": "全部站点"},
}

#: Metric name (:data:`sim.metrics.scores.METRICS`) -> {language: label with unit}.
METRIC_LABELS: Final[dict[str, dict[str, str]]] = {
    "wait_mean_min": {"en": "Mean wait (min)", "zh": "平均排队时间（分钟）"},
    "wait_p95_min": {"en": "95th percentile wait (min)", "zh": "排队时间 95% 分位数（分钟）"},
    "unserved_share": {"en": "Sessions not served (share)", "zh": "未获服务的充电需求占比"},
    "stranded_share": {"en": "Vehicles stranded (share)", "zh": "电量耗尽车辆占比"},
    "access_time_mean_min": {"en": "Mean drive to charger (min)", "zh": "平均到站车程（分钟）"},
    "detour_mean_min": {"en": "Mean highway detour (min)", "zh": "高速平均绕行时间（分钟）"},
    "utilization_mean": {"en": "Mean utilisation (share)", "zh": "平均利用率"},
    "coverage_share": {"en": "Demand covered (share)", "zh": "需求覆盖率"},
    "energy_served_kwh": {"en": "Energy served (kWh)", "zh": "供电量（kWh）"},
    "difficulty_index": {"en": "Charging difficulty index (0-100)", "zh": "充电难度指数（0–100）"},
}

#: Session outcome -> {language: label}.
OUTCOME_LABELS: Final[dict[str, dict[str, str]]] = {
    "charged": {"en": "charged", "zh": "已充电"},
    "reneged": {"en": "gave up waiting", "zh": "排队放弃"},
    "balked": {"en": "queue too long", "zh": "因排队过长离开"},
    "stranded": {"en": "ran out of charge", "zh": "电量耗尽"},
    "no_station": {"en": "no station in reach", "zh": "附近无充电站"},
}


def resolve_language(language: str | None, /, *, default: str = "en") -> Language:
    """The language to write in: ``language`` if given, else ``default`` (a scenario's
    ``output.language``).

    Returns
    -------
    {"en", "zh"}

    Raises
    ------
    ValueError
        The chosen language is not one of :data:`LANGUAGES`.
    """
    chosen = default if language is None else language
    if chosen not in LANGUAGES:
        raise ValueError(f"language: {chosen!r} is not one of {list(LANGUAGES)}")
    return cast(Language, chosen)  # checked against LANGUAGES above


def _pick(table: dict[str, dict[str, str]], key: str, language: str) -> str:
    entry = table.get(key)
    if entry is None:
        return key
    return entry.get(language) or entry["en"]


def label(key: str, language: str, /, **fields: object) -> str:
    """The text of ``key`` in ``language`` with ``{field}`` placeholders filled.

    Unknown keys are returned as they are (so a missing label shows, not crashes).
    Field values are inserted verbatim: escape them (or the result) before writing
    HTML.
    """
    text = _pick(LABELS, key, language)
    return text.format(**fields) if fields else text


def metric_label(metric: str, language: str, /) -> str:
    """Human label (with unit) of a metric of :data:`sim.metrics.scores.METRICS`."""
    return _pick(METRIC_LABELS, metric, language)


def outcome_label(outcome: str, language: str, /) -> str:
    """Human label of a session outcome (``charged``, ``reneged``, ...)."""
    return _pick(OUTCOME_LABELS, outcome, language)


def all_labels(language: str, /) -> str:
    """Every label, metric and outcome text in ``language``, joined (the characters a
    page or figure in that language may draw; :mod:`sim.export.fonts` subsets by it)."""
    return "".join(
        _pick(table, key, language)
        for table in (LABELS, METRIC_LABELS, OUTCOME_LABELS)
        for key in table
    )
