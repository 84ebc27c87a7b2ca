"""What the synthetic forum of ``make_archive.py`` talks about: its people, sites, and topics.

Each ``Topic`` has subjects, questions and answers (``{task}``, ``{site}``, ... are filled per
thread); ``covered`` says whether the shipped knowledge base has an entry for it, so the archive
has both questions the bot answers and gaps ``dastbot archive gaps`` should find. Written for
this project; no text comes from a real archive.
"""

from __future__ import annotations

from dataclasses import dataclass

LIST = "hn-atlas-dist-analysis-help@cern.ch"


@dataclass(frozen=True)
class Person:
    name: str
    address: str
    charset: str = "utf-8"
    institute: str = "CERN"


USERS = (
    Person("Jörg Müller", "joerg.mueller@physik.uni-example.de", "iso-8859-1", "Uni Example"),
    Person("François Lefèvre", "f.lefevre@lpnhe-example.fr", "iso-8859-1", "LPNHE (example)"),
    Person("Ana Peña", "ana.pena@ific-example.es", "windows-1252", "IFIC (example)"),
    Person("Иван Петров", "ivan.petrov@jinr-example.ru", "koi8-r", "JINR (example)"),
    Person("田中 由紀", "y.tanaka@kek-example.jp", "shift_jis", "KEK (example)"),
    Person("Priya Raman", "priya.raman@example.edu", institute="Example State University"),
    Person("Tom Becker", "tom.becker@example.ac.uk", institute="Example College London"),
    Person("Lucia Rossi", "lucia.rossi@infn-example.it", "iso-8859-1", "INFN (example)"),
    Person("Kwame Mensah", "kmensah@example.org", institute="Example Institute"),
    Person("Sara Lindqvist", "sara.lindqvist@example.se", "iso-8859-1", "Example University"),
    Person("Miguel Ortiz", "mortiz@example.cl", "windows-1252", "UTFSM (example)"),
    Person("Chen Wei", "chen.wei@example.cn", institute="Example Academy"),
    Person("Emily Carter", "ecarter@example-lab.gov", institute="Example National Lab"),
    Person("Noah Schmidt", "noah.schmidt@example.ch", institute="Example ETH"),
    Person("Aylin Demir", "aylin.demir@example.edu.tr", institute="Example Technical University"),
    Person("Olivier Dubois", "odubois@example.ca", "iso-8859-1", "Example Université"),
)
SHIFTERS = (
    Person("Anna Shifter", "anna.shifter@cern.example"),
    Person("Bruno Helper", "bruno.helper@cern.example"),
    Person("Chiara DAST", "chiara.dast@cern.example"),
    Person("Dmitri Expert", "dmitri.expert@cern.example"),
    Person("Grace Night", "grace.night@bnl.example"),
)
SITES = ("BNL-ATLAS", "CERN-PROD", "DESY-HH", "TOKYO-LCG2", "INFN-T1", "TRIUMF-LCG2", "IN2P3-CC")
RELEASES = ("AnalysisBase,21.2.{n}", "Athena,22.0.{n}", "AthAnalysis,24.2.{n}", "17.2.{n}.1")
DATASETS = (
    "mc16_13TeV.410470.PhPy8EG_A14_ttbar_hdamp258p75_nonallhad.deriv.DAOD_PHYS.e6337_s3126_r10201_p4172",
    "data18_13TeV.00348885.physics_Main.deriv.DAOD_PHYS.r11969_r11784_p4072_p4296",
    "mc20_13TeV.700320.Sh_2211_Zee_maxHTpTV2_BFilter.deriv.DAOD_PHYS.e8351_s3681_r13144_p5631",
    "user.{nick}.analysis.v{n}_output.root",
)


@dataclass(frozen=True)
class Topic:
    name: str
    covered: bool  # the shipped knowledge base has an entry for it
    subjects: tuple[str, ...]
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    weight: float = 1.0
    years: tuple[int, int] = (2008, 2026)


TOPICS = (
    Topic(
        "exhausted",
        True,
        (
            "Task {task} exhausted",
            "my task went to exhausted, what now?",
            "prun task stuck in exhausted state",
            "pathena task {task} exhausted",
        ),
        (
            "my task {task} went to exhausted after {n} attempts and does not progress. "
            "The monitor says 'action=set_exhausted since reason=many_attempts'. What should I do?",
            "Since yesterday my task {task} shows task status exhausted. Do I need to resubmit?",
        ),
        (
            "Exhausted means JEDI gave up retrying. Look at the errors of the failed jobs in "
            "BigPanDA, fix the cause and retry the task with pbook: pbook then retry({task}).",
        ),
        weight=3.0,
    ),
    Topic(
        "proxy",
        True,
        (
            "voms-proxy-init fails",
            "cannot create grid proxy",
            "Problem with voms-proxy-init -voms atlas",
        ),
        (
            "voms-proxy-init -voms atlas fails with 'Error: VOMS extension not found'. "
            "My certificate was renewed last week. Any idea?",
            "I cannot create a proxy: voms-proxy-init says my certificate is not valid.",
        ),
        (
            "Your new certificate has a new DN: register it in VOMS (the ATLAS VO page) and wait "
            "for the change to propagate, then run voms-proxy-init -voms atlas again.",
        ),
        weight=2.5,
    ),
    Topic(
        "rucio-download",
        True,
        (
            "rucio download fails",
            "rucio download gives errors for {ds_short}",
            "cannot download my output with rucio",
        ),
        (
            "rucio download {ds} fails for some files with 'Cannot download file'. "
            "Is the site broken?",
            "When I run rucio download on my task output, all files fail to download.",
        ),
        (
            "Some replicas are on a site with storage problems. Try --rses with another site, "
            "or make a replication rule to a disk you can read and download from there.",
        ),
        weight=2.5,
    ),
    Topic(
        "asetup",
        True,
        ("asetup cannot find release", "asetup {release} not found", "setting up release fails"),
        (
            "asetup {release} says the release cannot be found. I did setupATLAS first. "
            "What am I doing wrong?",
        ),
        (
            "That release is not installed for your OS any more: use a container, "
            "setupATLAS -c centos7, then asetup inside it.",
        ),
        weight=1.5,
    ),
    Topic(
        "heartbeat",
        True,
        ("jobs failed with lost heartbeat", "lost heartbeat at {site}", "many jobs lost heartbeat"),
        (
            "Half of the jobs of task {task} failed with 'lost heartbeat' at {site}. "
            "Is this my fault?",
        ),
        (
            "Lost heartbeat means the pilot stopped reporting, usually a site or node problem, not "
            "your code. Retry the task; if it repeats at one site, exclude it with --excludedSite.",
        ),
        weight=1.5,
    ),
    Topic(
        "memory",
        True,
        (
            "job killed for memory",
            "Job killed: exceeded memory limit",
            "task {task} jobs killed for using too much memory",
        ),
        (
            "My jobs are killed with 'job killed by signal 9: memory exceeded' at {site}. "
            "They use about 3 GB locally.",
        ),
        (
            "Ask for more memory per job with --memory (in MB), or split the input into smaller "
            "jobs with --nFilesPerJob.",
        ),
    ),
    Topic(
        "site-downtime",
        True,
        ("jobs failing at {site}", "is {site} in downtime?", "problems at {site} today"),
        (
            "All my jobs at {site} fail with stage-in errors since this morning. "
            "Is the site in downtime?",
        ),
        (
            "{site} is in an unscheduled downtime (see the downtime calendar). Your jobs will be "
            "retried elsewhere; you can exclude the site with --excludedSite {site}.",
        ),
        weight=2.0,
    ),
    Topic(
        "build-job",
        True,
        (
            "build job failed",
            "buildJob failed, upstream job failed",
            "all run jobs closed after build failure",
        ),
        ("My task {task} failed: buildJob failed and all run jobs say 'upstream job failed'.",),
        (
            "Open the build job's log in BigPanDA: the compilation error is there. Usually a file "
            "is missing from the sandbox or the release differs from your local one.",
        ),
    ),
    Topic(
        "quota",
        True,
        (
            "rucio rule refused: InsufficientAccountLimit",
            "no quota for replication rule",
            "cannot make a rule to LOCALGROUPDISK",
        ),
        (
            "rucio add-rule fails with InsufficientAccountLimit for the LOCALGROUPDISK of "
            "{site}. How do I get quota?",
        ),
        (
            "Your account has no quota on that RSE. Ask the site's group disk manager, or use "
            "SCRATCHDISK with a lifetime shorter than 15 days.",
        ),
    ),
    Topic(
        "outds",
        True,
        (
            "outDS name rejected",
            "output dataset name not allowed",
            "pathena complains about the outDS",
        ),
        (
            "prun refuses my --outDS user.{nick}.my analysis output: it says the name is not "
            "allowed.",
        ),
        (
            "An outDS must start with user.<nickname>. and may not contain spaces; keep it short "
            "(under about 130 characters).",
        ),
    ),
    Topic(
        "nickname",
        True,
        ("Could not get nickname from voms proxy", "nickname missing in VOMS"),
        ("pathena stops with 'Could not get nickname from voms proxy'. I just joined ATLAS.",),
        (
            "Set your nickname in your ATLAS VO membership (the VOMS admin page). It takes a "
            "few hours to propagate.",
        ),
    ),
    Topic(
        "activated",
        True,
        (
            "jobs stuck in activated",
            "jobs queued for days",
            "my jobs have been in assigned state for hours",
        ),
        ("The jobs of task {task} have been in activated state at {site} for two days.",),
        (
            "Activated means waiting for a free slot; the site is busy. PanDA will rebroker "
            "them, or kill and retry to let brokerage choose another site.",
        ),
    ),
    # Not in the knowledge base: what the archive should point at.
    Topic(
        "eos-quota",
        False,
        (
            "EOS quota exceeded",
            "my EOS user area is full",
            "how to increase EOS quota?",
            "no space left on EOS",
        ),
        (
            "My EOS user area is full (quota exceeded) and I cannot write my ntuples any more. "
            "How can I get a bigger EOS quota?",
            "Writing to /eos/user fails with 'Disk quota exceeded'. Who can increase it?",
        ),
        (
            "Personal EOS quota is raised through the CERNBox / EOS service request form, not by "
            "DAST. For analysis outputs, use your group's EOS space instead.",
        ),
        weight=3.0,
        years=(2013, 2026),
    ),
    Topic(
        "swan",
        False,
        (
            "SWAN session does not start",
            "Jupyter notebook on SWAN fails",
            "SWAN cannot find the ATLAS software",
        ),
        (
            "My SWAN session hangs at 'starting' and then fails. I picked the LCG 104 software "
            "stack. Is SWAN down?",
            "In a SWAN notebook I cannot import the ATLAS python modules, what software stack "
            "should I choose?",
        ),
        (
            "SWAN problems go to the SWAN service desk ticket queue. For ATLAS software in SWAN "
            "use a recent LCG stack and do not mix it with asetup.",
        ),
        weight=2.5,
        years=(2016, 2026),
    ),
    Topic(
        "gpu",
        False,
        (
            "GPU resources for machine learning",
            "How to get GPU nodes for training",
            "running on GPUs on the grid",
        ),
        (
            "I need GPUs to train a graph neural network for flavour tagging. Are there GPU "
            "queues on the grid or on lxplus I can use?",
        ),
        (
            "There are a few GPU PanDA queues: submit with prun --architecture '&nvidia'. For "
            "interactive work ask for lxplus-gpu access.",
        ),
        weight=2.0,
        years=(2018, 2026),
    ),
    Topic(
        "condor-held",
        False,
        (
            "lxplus batch jobs held",
            "HTCondor jobs go on hold",
            "condor_submit jobs stay idle on lxbatch",
        ),
        (
            "My HTCondor jobs on lxplus batch go to held state with 'Error from slot: "
            "disk quota exceeded'. The same script works interactively.",
        ),
        (
            "Held jobs on lxbatch are a batch-service question: check condor_q -hold for the "
            "reason; usually the job writes to AFS. Write to the job's local scratch instead.",
        ),
        weight=2.0,
        years=(2016, 2026),
    ),
    Topic(
        "x11",
        False,
        (
            "TBrowser very slow over ssh",
            "X11 forwarding slow from lxplus",
            "root TBrowser does not open remotely",
        ),
        (
            "Opening a TBrowser on lxplus over ssh -X takes minutes. Is there a faster way to "
            "look at my histograms remotely?",
        ),
        (
            "X11 over a long distance is slow; copy the file locally or use ROOT's web "
            "browser (root --web) with an ssh tunnel.",
        ),
        weight=1.2,
    ),
    Topic(
        "account",
        False,
        (
            "How do I get a CERN computing account",
            "new user: no lxplus account",
            "registration as external user",
        ),
        (
            "I am a new PhD student and I do not have a CERN computing account yet. How do I "
            "register to get lxplus access?",
        ),
        (
            "Accounts come with your CERN registration (users office), not from DAST; your "
            "team leader starts it.",
        ),
        weight=1.2,
    ),
)
CLOSINGS = (
    "Cheers,\n{first}",
    "Best regards,\n{first}",
    "Thanks a lot,\n{first}",
    "Thanks,\n{first}",
    "Many thanks,\n{first}",
    "{first}",
)
GREETINGS = ("Hi,", "Hello,", "Dear DAST,", "Dear experts,", "Hi all,", "Hello DAST team,")
HOMELY = {
    "koi8-r": "Добрый день!",
    "shift_jis": "お世話になっております。",
    "iso-8859-1": "Grüße / Salut à tous,",
    "windows-1252": "¡Hola! Quick question —",
}
FOLLOWUPS = (
    "Thanks, I tried that but it still fails with the same error. Task {task}.",
    "I did what you said and retried; now some jobs finish but others still fail.",
    "Sorry, here is the full log: attached.",
)
THANKS = (
    "Thanks, that solved it!",
    "It works now, thank you very much.",
    "Great, problem solved. Thanks for the quick help.",
)
FOOTER = ("\n_______________________________________________\n"
          "hn-atlas-dist-analysis-help mailing list\n" + LIST + "\n"
          "https://lists.cern.example/mailman/listinfo/hn-atlas-dist-analysis-help\n")  # fmt: skip
