"""The weekly report for coordinators: what happened in one ISO week against the week before.

Owns: ISO weeks in the shift calendar's zone (``weeks``), the report's value types (``values``)
and their computation from the store (``stats``), knowledge-gap clustering (``gaps``, public:
``cluster_texts`` groups any short texts by topic), the renderers (``render``: the Mattermost
post; ``export``: JSON and CSV; ``chart``: the PNG), the weekly post and ``/dast report``
(``job``), the ``dastbot report`` and ``dastbot demo-data`` subcommands (``cli``), and synthetic
history for demos and benchmarks (``demo``, ``demo_rota``, ``demo_texts``).

May import: ``dastbot.kernel``, ``dastbot.store`` (the report's SQL lives in
``dastbot.store.reports``), ``dastbot.answering`` (knowledge-base titles and patterns),
``dastbot.questions`` (the lifecycle's states and ``replay``; the demo writes through
``transition``), ``dastbot.shifts`` (calendar, coverage, duty) and ``dastbot.escalations``'
public records. Never ``dastbot.router``, ``dastbot.app`` or ``dastbot.cli``.
"""
