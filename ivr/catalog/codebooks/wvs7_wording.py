"""The ivr project's own statement wording for the WVS wave-7 value questions.

Only phrasing lives here. Question ids, answer codes, code groupings and categories are facts
read from the published metadata by :mod:`ivr.catalog.codebooks.make_wvs7`, which fills these
templates in the order of the option groups it finds there (and checks that the counts agree).

A :class:`Block` covers questions that share one sentence pattern. Each template may use the
fields of the question's sub-item: ``{s}`` for a plain subject phrase, or named fields when a
sub-item needs several forms (verbs in Q209-Q220, ranks in Q152-Q157). Every 1-10 scale has
four refined templates for the buckets [1-3], [4-5], [6-7], [8-10] and two polar templates for
[1-5], [6-10], each stating the respondent's position in the direction of the WVS scale.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """One sentence pattern shared by a run of questions.

    Attributes:
        subjects: question id -> its sub-item (a subject phrase, or a dict of named fields).
        text: a short paraphrase of what is asked (a template like the statements).
        refined: one statement template per refined option group, in group order.
        polar: one template per polar option group; ``None`` means the same as ``refined``.
    """

    subjects: dict[str, str | dict[str, str]]
    text: str
    refined: tuple[str, ...]
    polar: tuple[str, ...] | None = None


def _single(qid: str, text: str, refined: tuple[str, ...], polar: tuple[str, ...] | None = None) -> Block:
    return Block({qid: ""}, text, refined, polar)


# Answer scales reused by several blocks ({s} = the sub-item proposition).
_AGREE4 = (
    "I firmly agree that {s}",
    "I mostly agree that {s}",
    "I mostly disagree that {s}",
    "I firmly disagree that {s}",
)
_AGREE_POLAR = ("I agree with the view that {s}", "I disagree with the view that {s}")
_AGREE5 = (
    "I firmly agree that {s}",
    "I mostly agree that {s}",
    "I am torn on whether {s}",
    "I mostly disagree that {s}",
    "I firmly disagree that {s}",
)
_AGREE5_POLAR = (
    "I agree with the view that {s}",
    "I am torn on whether {s}",
    "I disagree with the view that {s}",
)
_CONCERN4 = (
    "I am deeply concerned about {s}",
    "I am fairly concerned about {s}",
    "I am only a little concerned about {s}",
    "I am not concerned at all about {s}",
)
_CONCERN_POLAR = ("I am concerned about {s}", "I am largely unconcerned about {s}")


def _acts(**verbs: tuple[str, str, str]) -> dict[str, dict[str, str]]:
    """Sub-items of the political-action questions: (past participle, -ing form, infinitive)."""
    return {q: {"done": v[0], "doing": v[1], "do": v[2]} for q, v in verbs.items()}


BLOCKS: tuple[Block, ...] = (
    # --- Social Values, Attitudes & Stereotypes -------------------------------------------
    Block(
        {"Q1": "family", "Q2": "friends", "Q3": "leisure time", "Q4": "politics", "Q5": "work", "Q6": "religion"},
        "How much do you care about {s} in your life?",
        (
            "I care a great deal about {s}",
            "I care quite a lot about {s}",
            "I do not care much about {s}",
            "I do not care about {s} at all",
        ),
        ("I care about {s}", "I do not really care about {s}"),
    ),
    Block(
        # Code 1 = the quality was mentioned as especially important, 2 = not mentioned.
        {
            "Q7": "good manners",
            "Q8": "independence",
            "Q9": "hard work",
            "Q10": "a sense of responsibility",
            "Q11": "imagination",
            "Q12": "tolerance and respect for others",
            "Q13": "thrift and saving money and things",
            "Q14": "determination and perseverance",
            "Q15": "religious faith",
            "Q16": "unselfishness",
            "Q17": "obedience",
        },
        "Is {s} one of the qualities children should especially learn at home?",
        (
            "Teaching children {s} at home is a priority for me",
            "Teaching children {s} at home is not a priority for me",
        ),
    ),
    Block(
        # Code 1 = mentioned as unwanted neighbours, 2 = not mentioned.
        {
            "Q18": "drug addicts",
            "Q19": "people of another race",
            "Q20": "people who have AIDS",
            "Q21": "immigrants or foreign workers",
            "Q22": "homosexual people",
            "Q23": "people of another religion",
            "Q24": "heavy drinkers",
            "Q25": "unmarried couples who live together",
            "Q26": "people who speak another language",
        },
        "Would you rather not have {s} as neighbours?",
        ("I would rather not live next door to {s}", "I would not mind living next door to {s}"),
    ),
    Block(
        {
            "Q27": "making my parents proud has been one of my main aims in life",
            "Q28": "children suffer when their mother has a paid job",
            "Q29": "men generally make better political leaders than women",
            "Q30": "a university degree matters more for a boy than for a girl",
            "Q31": "men generally make better business executives than women",
            "Q32": "being a housewife is as fulfilling as having a paid job",
            "Q169": "religion is always right when science and religion disagree",
            "Q170": "my own religion is the only acceptable one",
        },
        "Agreement with the statement: {s}",
        _AGREE4,
        _AGREE_POLAR,
    ),
    Block(
        {
            "Q33": "men should have more claim to a job than women when work is scarce",
            "Q34": "employers should prefer this country's own people over immigrants when work is scarce",
            "Q35": "a wife who earns more than her husband is almost sure to cause trouble",
            "Q36": "same-sex couples are as good at parenting as other couples",
            "Q37": "having children is a duty owed to society",
            "Q38": "adult children are obliged to give their parents long-term care",
            "Q39": "people who do not work become lazy",
            "Q40": "working is a duty owed to society",
            "Q41": "work should always come first, even at the cost of free time",
        },
        "Agreement with the statement: {s}",
        _AGREE5,
        _AGREE5_POLAR,
    ),
    _single(
        "Q42",
        "Which basic stance towards society do you hold: revolution, gradual reform or defence?",
        (
            "Our society needs a complete overhaul through revolutionary action",
            "Our society should be improved step by step through reforms",
            "Our present society should be firmly defended against all subversive forces",
        ),
    ),
    Block(
        {
            "Q43": "work playing a smaller part in our lives",
            "Q44": "more emphasis on developing technology",
            "Q45": "more respect for authority",
        },
        "Would {s} in the near future be a good thing, a bad thing, or neither?",
        (
            "I would welcome {s} in the coming years",
            "I would be indifferent to {s} in the coming years",
            "I would dislike {s} in the coming years",
        ),
    ),
    # --- Happiness and Well-Being ---------------------------------------------------------
    _single(
        "Q46",
        "How happy are you, all things considered?",
        (
            "All things considered, I am very happy",
            "All things considered, I am fairly happy",
            "All things considered, I am not very happy",
            "All things considered, I am not happy at all",
        ),
        ("All things considered, I am happy", "All things considered, I am unhappy"),
    ),
    _single(
        "Q47",
        "How would you rate your health these days?",
        (
            "I am in very good health",
            "I am in good health",
            "I am in fair health",
            "I am in poor health",
            "I am in very poor health",
        ),
        ("I am in fair to good health", "I am in bad health"),
    ),
    _single(
        "Q48",
        "How much free choice and control do you have over the way your life turns out?",
        (
            "I feel I have almost no control over how my life turns out",
            "I feel I have limited control over how my life turns out",
            "I feel I have a fair amount of control over how my life turns out",
            "I feel I have a great deal of control over how my life turns out",
        ),
        (
            "I feel I have little control over how my life turns out",
            "I feel largely in control of how my life turns out",
        ),
    ),
    Block(
        {"Q49": "my life", "Q50": "my household's finances"},
        "Satisfaction with {s}",
        (
            "Overall I am very dissatisfied with {s}",
            "Overall I am rather dissatisfied with {s}",
            "Overall I am fairly satisfied with {s}",
            "Overall I am very satisfied with {s}",
        ),
        ("On balance I am dissatisfied with {s}", "On balance I am satisfied with {s}"),
    ),
    Block(
        {
            "Q51": "gone without enough food",
            "Q52": "felt unsafe from crime at home",
            "Q53": "gone without medicine or medical care we needed",
            "Q54": "gone without any cash income",
            "Q55": "gone without a safe place to live",
        },
        "Household hardship in the past year: how often we have {s}",
        (
            "In the past year my household has often {s}",
            "In the past year my household has sometimes {s}",
            "In the past year my household has rarely {s}",
            "In the past year my household has never {s}",
        ),
        ("In the past year my household has at times {s}", "In the past year my household has seldom or never {s}"),
    ),
    _single(
        "Q56",
        "Is your standard of living better, worse or the same as your parents' at your age?",
        (
            "I live better than my parents did at my age",
            "I live worse than my parents did at my age",
            "I live about as well as my parents did at my age",
        ),
    ),
    # --- Social Capital, Trust & Organizational Membership -------------------------------
    _single(
        "Q57",
        "Can most people be trusted, or must one be very careful with people?",
        (
            "Generally, I find that most people are trustworthy",
            "Generally, I find that one has to be very careful with people",
        ),
    ),
    Block(
        {
            "Q58": "my family",
            "Q59": "my neighbours",
            "Q60": "people I know personally",
            "Q61": "people I meet for the first time",
            "Q62": "people of another religion",
            "Q63": "people of another nationality",
        },
        "Trust in {s}",
        (
            "I have complete trust in {s}",
            "I have some trust in {s}",
            "I have little trust in {s}",
            "I have no trust whatsoever in {s}",
        ),
        ("I find {s} trustworthy", "I find {s} hard to trust"),
    ),
    Block(
        {
            "Q64": "the churches",
            "Q65": "the armed forces",
            "Q66": "the press",
            "Q67": "television",
            "Q68": "labour unions",
            "Q69": "the police",
            "Q70": "the courts",
            "Q71": "the government",
            "Q72": "political parties",
            "Q73": "parliament",
            "Q74": "the civil service",
            "Q75": "universities",
            "Q76": "elections",
            "Q77": "big companies",
            "Q78": "banks",
            "Q79": "environmental groups",
            "Q80": "women's groups",
            "Q81": "charities and humanitarian groups",
            "Q83": "the United Nations",
            "Q84": "the International Monetary Fund",
            "Q85": "the International Criminal Court",
            "Q86": "NATO",
            "Q87": "the World Bank",
            "Q88": "the World Health Organization",
            "Q89": "the World Trade Organization",
        },
        "How much confidence do you have in {s}?",
        (
            "My confidence in {s} is very high",
            "My confidence in {s} is fairly high",
            "My confidence in {s} is rather low",
            "My confidence in {s} is zero",
        ),
        ("My confidence in {s} is high", "My confidence in {s} is low"),
    ),
    _single(
        # 1 = effectiveness matters most, 10 = democratic decision-making matters most.
        "Q90",
        "Should international organisations put effectiveness or democratic decisions first?",
        (
            "For international organisations I strongly favour effectiveness over democratic decisions",
            "For international organisations I slightly favour effectiveness over democratic decisions",
            "For international organisations I slightly favour democratic decisions over effectiveness",
            "For international organisations I strongly favour democratic decisions over effectiveness",
        ),
        (
            "For international organisations I put effectiveness ahead of democratic decisions",
            "For international organisations I put democratic decisions ahead of effectiveness",
        ),
    ),
    Block(
        # Code 0 = not a member, 1 = inactive member, 2 = active member.
        {
            "Q94": "a church or religious organisation",
            "Q95": "a sports or recreational club or team",
            "Q96": "an arts, music or educational organisation",
            "Q97": "a labour union",
            "Q98": "a political party",
            "Q99": "an environmental organisation",
            "Q100": "a professional association",
            "Q101": "a humanitarian or charitable organisation",
            "Q102": "a consumer organisation",
            "Q103": "a self-help or mutual aid group",
            "Q104": "a women's group",
        },
        "Are you an active member, an inactive member or not a member of {s}?",
        ("I am not a member of {s}", "I am a member of {s} but not an active one", "I am actively involved in {s}"),
        ("I am not actively involved in {s}", "I am actively involved in {s}"),
    ),
    # --- Economic Values (1-10 scales, 1 = the first pole) --------------------------------
    _single(
        "Q106",
        "Should incomes be made more equal, or should individual effort get bigger incentives?",
        (
            "I lean strongly towards making incomes more equal over rewarding individual effort",
            "I lean slightly towards making incomes more equal over rewarding individual effort",
            "I lean slightly towards bigger rewards for individual effort over equal incomes",
            "I lean strongly towards bigger rewards for individual effort over equal incomes",
        ),
        (
            "I favour more equal incomes over bigger incentives for individual effort",
            "I favour bigger incentives for individual effort over more equal incomes",
        ),
    ),
    _single(
        "Q107",
        "Should private or government ownership of business and industry grow?",
        (
            "I lean strongly towards expanding private rather than state ownership of business",
            "I lean slightly towards expanding private rather than state ownership of business",
            "I lean slightly towards expanding state rather than private ownership of business",
            "I lean strongly towards expanding state rather than private ownership of business",
        ),
        (
            "I want private ownership of business and industry to grow rather than state ownership",
            "I want state ownership of business and industry to grow rather than private ownership",
        ),
    ),
    _single(
        "Q108",
        "Should the government or people themselves take more responsibility for provision?",
        (
            "I lean strongly towards the government doing more to provide for everyone",
            "I lean slightly towards the government doing more to provide for everyone",
            "I lean slightly towards people doing more to provide for themselves",
            "I lean strongly towards people doing more to provide for themselves",
        ),
        (
            "I think the government should do more to make sure everyone is provided for",
            "I think people should do more to look after themselves",
        ),
    ),
    _single(
        "Q109",
        "Is competition good or harmful?",
        (
            "I am strongly convinced that competition does more good than harm",
            "I lean towards thinking that competition does more good than harm",
            "I lean towards thinking that competition does more harm than good",
            "I am strongly convinced that competition does more harm than good",
        ),
        ("I see competition as mostly beneficial", "I see competition as mostly damaging"),
    ),
    _single(
        "Q110",
        "Does hard work bring a better life, or is success more about luck and connections?",
        (
            "I am firmly convinced that hard work usually pays off with a better life",
            "I lean towards thinking that hard work usually pays off with a better life",
            "I lean towards thinking that success depends more on luck and connections than on effort",
            "I am firmly convinced that success depends more on luck and connections than on effort",
        ),
        (
            "I think hard work generally leads to a better life",
            "I think luck and connections count for more than hard work",
        ),
    ),
    _single(
        "Q111",
        "Should protecting the environment or economic growth come first?",
        (
            "I would put the environment first, even at the price of slower growth and some lost jobs",
            "I would put economic growth and jobs first, even if nature suffers somewhat",
        ),
    ),
    # --- Corruption ------------------------------------------------------------------------
    _single(
        # 1 = no corruption, 10 = abundant corruption.
        "Q112",
        "How much corruption is there in your country?",
        (
            "I think corruption in my country is rare or absent",
            "I think corruption in my country is limited",
            "I think corruption in my country is common",
            "I think corruption in my country is pervasive",
        ),
        ("I think corruption in my country is uncommon", "I think corruption in my country is widespread"),
    ),
    Block(
        {
            "Q113": "state authorities",
            "Q114": "business executives",
            "Q115": "local authorities",
            "Q116": "public service providers such as police, judges, civil servants, doctors and teachers",
            "Q117": "journalists and the media",
        },
        "How widespread is corruption among {s}?",
        (
            "Among {s}, I think none are corrupt",
            "Among {s}, I think a few are corrupt",
            "Among {s}, I think most are corrupt",
            "Among {s}, I think all are corrupt",
        ),
        ("Among {s}, I think few or none are corrupt", "Among {s}, I think most or all are corrupt"),
    ),
    _single(
        "Q118",
        "How often do people like you have to bribe local officials to get services?",
        (
            "People like me around here never need a bribe, gift or favour to get local public services",
            "People like me around here rarely need a bribe, gift or favour to get local public services",
            "People like me around here often need a bribe, gift or favour to get local public services",
            "People like me around here always need a bribe, gift or favour to get local public services",
        ),
        (
            "People like me around here seldom need a bribe, gift or favour to get local public services",
            "People like me around here usually need a bribe, gift or favour to get local public services",
        ),
    ),
    _single(
        # Code 0 = hard to say, then 1 strongly agree ... 4 strongly disagree.
        "Q119",
        "Are women, on the whole, less corrupt than men?",
        (
            "I am unsure whether women are generally less corrupt than men",
            "I firmly believe women are generally less corrupt than men",
            "I tend to believe women are generally less corrupt than men",
            "I tend to doubt that women are generally less corrupt than men",
            "I firmly doubt that women are generally less corrupt than men",
        ),
        (
            "I am unsure whether women are generally less corrupt than men",
            "I believe women are generally less corrupt than men",
            "I doubt that women are generally less corrupt than men",
        ),
    ),
    _single(
        # 1 = no risk, 10 = very high risk.
        "Q120",
        "How likely is someone to be held to account for a bribe for a public service?",
        (
            "I think the chance of being punished for a bribe, gift or favour is small or none",
            "I think the chance of being punished for a bribe, gift or favour is moderate",
            "I think the chance of being punished for a bribe, gift or favour is high",
            "I think the chance of being punished for a bribe, gift or favour is very high",
        ),
        (
            "I think bribes, gifts or favours carry little risk of punishment",
            "I think bribes, gifts or favours carry a real risk of punishment",
        ),
    ),
    # --- Migration -------------------------------------------------------------------------
    _single(
        "Q121",
        "What effect do immigrants have on your country's development?",
        (
            "I think immigrants harm my country's development a lot",
            "I think immigrants harm my country's development somewhat",
            "I think immigrants neither help nor harm my country's development",
            "I think immigrants help my country's development somewhat",
            "I think immigrants help my country's development a lot",
        ),
        (
            "I think immigrants harm my country's development",
            "I think immigrants neither help nor harm my country's development",
            "I think immigrants help my country's development",
        ),
    ),
    Block(
        # Code 0 = disagree, 1 = hard to say, 2 = agree.
        {
            "Q122": "fills important job vacancies",
            "Q123": "strengthens cultural diversity",
            "Q124": "raises crime",
            "Q125": "gives asylum to refugees persecuted elsewhere",
            "Q126": "raises the risk of terrorism",
            "Q127": "gives people from poor countries a better life",
            "Q128": "raises unemployment",
            "Q129": "leads to social conflict",
        },
        "Effect of immigration on the country: it {s}",
        (
            "I do not think immigration to my country {s}",
            "I cannot tell whether immigration to my country {s}",
            "I think immigration to my country {s}",
        ),
    ),
    _single(
        "Q130",
        "What should the government do about people from abroad who want to work here?",
        (
            "I think my country should let in anyone from abroad who wants to work here",
            "I think my country should let foreigners work here as long as jobs are available",
            "I think my country should strictly limit how many foreigners can come to work here",
            "I think my country should not let foreigners come to work here at all",
        ),
        (
            "I think my country should be open to foreigners who come to work here",
            "I think my country should bar or strictly limit foreigners who come to work here",
        ),
    ),
    # --- Security --------------------------------------------------------------------------
    _single(
        "Q131",
        "How secure do you feel these days?",
        (
            "These days I feel very safe",
            "These days I feel fairly safe",
            "These days I do not feel very safe",
            "These days I do not feel safe at all",
        ),
        ("These days I feel safe", "These days I feel unsafe"),
    ),
    Block(
        {
            "Q132": "robbery",
            "Q133": "drinking alcohol in the street",
            "Q134": "police or military interference in people's private lives",
            "Q135": "racist behaviour",
            "Q136": "drug dealing in the street",
            "Q137": "street violence and fighting",
            "Q138": "sexual harassment",
        },
        "How often does {s} happen in your neighbourhood?",
        (
            "Cases of {s} are very common where I live",
            "Cases of {s} are fairly common where I live",
            "Cases of {s} are uncommon where I live",
            "Cases of {s} hardly ever happen where I live",
        ),
        ("Cases of {s} are common where I live", "Cases of {s} are rare where I live"),
    ),
    Block(
        {
            "Q139": "avoided carrying much money",
            "Q140": "avoided going out at night",
            "Q141": "carried a knife, gun or other weapon",
        },
        "Have you, for safety reasons, {s}?",
        ("For safety reasons I have {s}", "I have never {s} for safety reasons"),
    ),
    Block(
        {
            "Q142": "losing my job or not finding one",
            "Q143": "being unable to give my children a good education",
            "Q146": "the prospect of a war involving my country",
            "Q147": "the prospect of a terrorist attack",
            "Q148": "the prospect of a civil war",
        },
        "Worry about {s}",
        _CONCERN4,
        _CONCERN_POLAR,
    ),
    _single(
        "Q144",
        "Have you been a victim of crime in the past year?",
        ("I was a victim of crime in the last year", "I was not a victim of crime in the last year"),
    ),
    _single(
        "Q145",
        "Has anyone in your close family been a victim of crime in the past year?",
        (
            "Someone in my close family was a victim of crime in the last year",
            "Nobody in my close family was a victim of crime in the last year",
        ),
    ),
    _single(
        "Q149",
        "Which matters more to you, freedom or equality?",
        (
            "Forced to choose, I would put freedom ahead of equality",
            "Forced to choose, I would put equality ahead of freedom",
        ),
    ),
    _single(
        "Q150",
        "Which matters more to you, freedom or security?",
        (
            "Forced to choose, I would put freedom ahead of security",
            "Forced to choose, I would put security ahead of freedom",
        ),
    ),
    _single(
        "Q151",
        "Would you be willing to fight for your country in a war?",
        ("I would be ready to fight for my country in a war", "I would not be ready to fight for my country in a war"),
    ),
    # --- Postmaterialist Index -------------------------------------------------------------
    Block(
        {"Q152": {"rank": "first"}, "Q153": {"rank": "second"}},
        "Which aim should come {rank} for your country over the next ten years?",
        (
            "For my country's next ten years, the aim I rank {rank} is strong economic growth",
            "For my country's next ten years, the aim I rank {rank} is strong defence forces",
            "For my country's next ten years, the aim I rank {rank} is more say for people at work "
            "and in their communities",
            "For my country's next ten years, the aim I rank {rank} is more beautiful cities and countryside",
        ),
    ),
    Block(
        {"Q154": {"rank": "first"}, "Q155": {"rank": "second"}},
        "Which national aim do you rank {rank}: order, a say in government, prices or free speech?",
        (
            "Among national aims, the one I rank {rank} is keeping order in the nation",
            "Among national aims, the one I rank {rank} is more say for people in government decisions",
            "Among national aims, the one I rank {rank} is fighting rising prices",
            "Among national aims, the one I rank {rank} is protecting free speech",
        ),
    ),
    Block(
        {"Q156": {"rank": "first"}, "Q157": {"rank": "second"}},
        "Which aim for your country do you rank {rank}: economy, humane society, ideas or crime?",
        (
            "For my country, the aim I rank {rank} is a stable economy",
            "For my country, the aim I rank {rank} is a less impersonal, more humane society",
            "For my country, the aim I rank {rank} is a society where ideas count for more than money",
            "For my country, the aim I rank {rank} is fighting crime",
        ),
    ),
    # --- Science & Technology (1 = completely disagree, 10 = completely agree) -------------
    Block(
        {
            "Q158": "science and technology make our lives healthier, easier and more comfortable",
            "Q159": "science and technology will give the next generation more opportunities",
            "Q160": "we rely too much on science and too little on faith",
            "Q161": "science does harm by eroding people's sense of right and wrong",
            "Q162": "knowing about science does not matter in my daily life",
        },
        "Agreement with the statement: {s}",
        (
            "I strongly reject the idea that {s}",
            "I lean towards rejecting the idea that {s}",
            "I lean towards accepting the idea that {s}",
            "I fully accept the idea that {s}",
        ),
        ("I reject the idea that {s}", "I accept the idea that {s}"),
    ),
    _single(
        "Q163",
        "Is the world better or worse off because of science and technology?",
        (
            "I think science and technology have made the world a much worse place",
            "I think science and technology have made the world a somewhat worse place",
            "I think science and technology have made the world a somewhat better place",
            "I think science and technology have made the world a much better place",
        ),
        (
            "I think science and technology have made the world worse",
            "I think science and technology have made the world better",
        ),
    ),
    # --- Religious Values ------------------------------------------------------------------
    _single(
        "Q164",
        "How important is God in your life?",
        (
            "God plays no real part in my life",
            "God plays a minor part in my life",
            "God plays a fairly important part in my life",
            "God plays a central part in my life",
        ),
        ("God matters little in my life", "God matters in my life"),
    ),
    Block(
        {"Q165": "God", "Q166": "life after death", "Q167": "hell", "Q168": "heaven"},
        "Do you believe in {s}?",
        ("I am a believer in {s}", "I am not a believer in {s}"),
    ),
    _single(
        "Q171",
        "Apart from weddings and funerals, how often do you attend religious services?",
        (
            "Besides weddings and funerals, I go to religious services several times a week",
            "Besides weddings and funerals, I go to religious services every week",
            "Besides weddings and funerals, I go to religious services every month",
            "Besides weddings and funerals, I go to religious services only on holy days",
            "Besides weddings and funerals, I go to religious services about once a year",
            "Besides weddings and funerals, I go to religious services less than once a year",
            "Besides weddings and funerals, I never or almost never go to religious services",
        ),
        (
            "Besides weddings and funerals, I go to religious services regularly",
            "Besides weddings and funerals, I go to religious services only now and then",
            "Besides weddings and funerals, I never or almost never go to religious services",
        ),
    ),
    _single(
        "Q172",
        "How often do you pray?",
        (
            "I pray several times daily",
            "I pray once daily",
            "I pray several times a week",
            "I pray only at religious services",
            "I pray only on holy days",
            "I pray about once a year",
            "I pray less than once a year",
            "I pray never or almost never",
        ),
        ("I pray regularly", "I pray now and then but not regularly", "I pray never or almost never"),
    ),
    _single(
        "Q173",
        "Do you see yourself as religious, not religious, or an atheist?",
        (
            "I see myself as a religious person",
            "I do not see myself as a religious person",
            "I see myself as a convinced atheist",
        ),
    ),
    _single(
        "Q174",
        "Is religion mainly about following norms and rituals or about doing good to others?",
        (
            "To me, religion is mainly about keeping its rules and rituals rather than doing good to others",
            "To me, religion is mainly about doing good to others rather than keeping rules and rituals",
        ),
    ),
    _single(
        "Q175",
        "Is religion mainly about making sense of life after death or of life in this world?",
        (
            "To me, religion is mainly about making sense of what comes after death, not of this life",
            "To me, religion is mainly about making sense of this life, not of what comes after death",
        ),
    ),
    # --- Ethical Values and Norms ----------------------------------------------------------
    _single(
        # Reversed scale: 1 = completely agree, 10 = completely disagree.
        "Q176",
        "Is it hard nowadays to decide which moral rules are the right ones?",
        (
            "I fully agree that these days it is often hard to know which moral rules are right",
            "I partly agree that these days it is often hard to know which moral rules are right",
            "I partly disagree that these days it is often hard to know which moral rules are right",
            "I fully disagree that these days it is often hard to know which moral rules are right",
        ),
        (
            "I feel that these days it is often hard to know which moral rules are right",
            "I do not feel that these days it is hard to know which moral rules are right",
        ),
    ),
    Block(
        # 1 = never justifiable, 10 = always justifiable.
        {
            "Q177": "claiming state benefits one is not entitled to",
            "Q178": "dodging the fare on public transport",
            "Q179": "stealing property",
            "Q180": "cheating on taxes given the chance",
            "Q181": "taking a bribe while doing one's job",
            "Q182": "homosexuality",
            "Q183": "prostitution",
            "Q184": "abortion",
            "Q185": "divorce",
            "Q186": "sex before marriage",
            "Q187": "suicide",
            "Q188": "euthanasia",
            "Q189": "a man beating his wife",
            "Q190": "parents beating their children",
            "Q191": "violence against other people",
            "Q192": "terrorism for political, ideological or religious ends",
            "Q193": "casual sex",
            "Q194": "political violence",
            "Q195": "the death penalty",
        },
        "Can {s} be justified?",
        (
            "In my view, {s} can never or hardly ever be justified",
            "In my view, {s} can rarely be justified",
            "In my view, {s} can often be justified",
            "In my view, {s} can always or nearly always be justified",
        ),
        ("In my view, {s} is mostly unjustifiable", "In my view, {s} is mostly justifiable"),
    ),
    Block(
        {
            "Q196": "keep people under video surveillance in public places",
            "Q197": "monitor all e-mails and other information exchanged online",
            "Q198": "collect data on anyone living in the country without their knowledge",
        },
        "Should your government have the right to {s}?",
        (
            "I think my government should definitely be allowed to {s}",
            "I think my government should probably be allowed to {s}",
            "I think my government should probably not be allowed to {s}",
            "I think my government should definitely not be allowed to {s}",
        ),
        ("I think my government should be allowed to {s}", "I think my government should not be allowed to {s}"),
    ),
    # --- Political Interest & Political Participation ---------------------------------------
    _single(
        "Q199",
        "How interested are you in politics?",
        (
            "Politics interests me a great deal",
            "Politics interests me somewhat",
            "Politics does not interest me much",
            "Politics does not interest me at all",
        ),
        ("Politics interests me", "Politics does not interest me"),
    ),
    _single(
        "Q200",
        "When you meet friends, do you talk about politics?",
        (
            "I often talk about politics with my friends",
            "I now and then talk about politics with my friends",
            "I never talk about politics with my friends",
        ),
        ("I do talk about politics with my friends", "I never talk about politics with my friends"),
    ),
    Block(
        {
            "Q201": "daily newspapers",
            "Q202": "TV news",
            "Q203": "radio news",
            "Q204": "my mobile phone",
            "Q205": "email",
            "Q206": "the internet",
            "Q207": "social media such as Facebook or Twitter",
            "Q208": "talking with friends or colleagues",
        },
        "How often do you get news from {s}?",
        (
            "I get news from {s} every day",
            "I get news from {s} every week",
            "I get news from {s} every month",
            "I get news from {s} less than once a month",
            "I never get news from {s}",
        ),
        ("I get news from {s} regularly", "I get news from {s} only occasionally", "I never get news from {s}"),
    ),
    Block(
        _acts(
            Q209=("signed a petition", "signing a petition", "sign a petition"),
            Q210=("joined a boycott", "joining a boycott", "join a boycott"),
            Q211=(
                "taken part in a peaceful demonstration",
                "taking part in a peaceful demonstration",
                "take part in a peaceful demonstration",
            ),
            Q212=("joined a strike", "joining a strike", "join a strike"),
            Q213=(
                "given money to a group or campaign",
                "giving money to a group or campaign",
                "give money to a group or campaign",
            ),
            Q214=(
                "contacted a government official",
                "contacting a government official",
                "contact a government official",
            ),
            Q215=(
                "urged others to act on political issues",
                "urging others to act on political issues",
                "urge others to act on political issues",
            ),
            Q216=("urged others to vote", "urging others to vote", "urge others to vote"),
            Q217=(
                "looked up political news online",
                "looking up political news online",
                "look up political news online",
            ),
            Q218=("signed a petition online", "signing a petition online", "sign a petition online"),
            Q219=(
                "used the internet to push others towards political action",
                "using the internet to push others towards political action",
                "use the internet to push others towards political action",
            ),
            Q220=(
                "organised political events or protests online",
                "organising political events or protests online",
                "organise political events or protests online",
            ),
        ),
        "Have you ever {done}, might you, or would you never?",
        ("I have {done} at some point", "I could see myself {doing} someday", "I would never {do}"),
    ),
    Block(
        # 1 always, 2 usually, 3 never, 4 not allowed to vote; polar joins always and usually.
        {"Q221": "local", "Q222": "national"},
        "How often do you vote in {s} elections?",
        (
            "I vote in every {s} election",
            "I vote in most {s} elections",
            "I never vote in {s} elections",
            "I am not eligible to vote in {s} elections",
        ),
        (
            "I usually take part in {s} elections",
            "I never vote in {s} elections",
            "I am not eligible to vote in {s} elections",
        ),
    ),
    Block(
        {
            "Q224": "votes are counted fairly",
            "Q225": "opposition candidates are kept from running",
            "Q226": "TV news favours the governing party",
            "Q227": "voters are bribed",
            "Q228": "journalists give the campaign fair coverage",
            "Q229": "election officials are fair",
            "Q230": "rich people buy the result",
            "Q231": "voters face threats of violence at the polls",
            "Q232": "voters get a real choice",
            "Q233": "women have equal chances to run for office",
        },
        "In your country's elections, how often is it the case that {s}?",
        (
            "In elections in my country, {s} very often",
            "In elections in my country, {s} quite often",
            "In elections in my country, {s} only now and then",
            "In elections in my country, {s} almost never",
        ),
        ("In elections in my country, {s} often", "In elections in my country, {s} rarely"),
    ),
    _single(
        "Q234",
        "How important is it to you to have honest elections?",
        (
            "Honest elections matter a great deal to me",
            "Honest elections matter quite a lot to me",
            "Honest elections do not matter much to me",
            "Honest elections do not matter to me at all",
        ),
        ("Honest elections matter to me", "Honest elections are of little importance to me"),
    ),
    # --- Political Culture & Political Regimes ----------------------------------------------
    Block(
        {
            "Q235": "a strong leader who need not bother with parliament or elections",
            "Q236": "experts rather than the government deciding what is best for the country",
            "Q237": "army rule",
            "Q238": "a democratic political system",
            "Q239": "a system of religious law with no political parties or elections",
        },
        "Would {s} be a good or a bad way to govern your country?",
        (
            "I think {s} would be a very good way to run my country",
            "I think {s} would be a fairly good way to run my country",
            "I think {s} would be a fairly bad way to run my country",
            "I think {s} would be a very bad way to run my country",
        ),
        ("I think {s} would be a good way to run my country", "I think {s} would be a bad way to run my country"),
    ),
    _single(
        "Q240",
        "Where do you place your political views on a left-right scale?",
        (
            "Politically, I place myself far to the left",
            "Politically, I place myself a little left of centre",
            "Politically, I place myself a little right of centre",
            "Politically, I place myself far to the right",
        ),
        ("Politically, I lean to the left", "Politically, I lean to the right"),
    ),
    Block(
        # 1 = not an essential characteristic of democracy, 10 = an essential one.
        {
            "Q241": "the government taxing the rich to support the poor",
            "Q242": "religious authorities having the final word on the laws",
            "Q243": "people electing their leaders freely",
            "Q244": "unemployed people getting help from the state",
            "Q245": "the army taking over when the government is incompetent",
            "Q246": "civil rights that shield people from state oppression",
            "Q247": "the state equalising people's incomes",
            "Q248": "people obeying those who rule them",
            "Q249": "women having equal rights with men",
        },
        "How essential to democracy is {s}?",
        (
            "I do not see {s} as part of democracy at all",
            "I see {s} as a minor part of democracy",
            "I see {s} as a fairly central part of democracy",
            "I see {s} as a core part of democracy",
        ),
        ("I do not see {s} as essential to democracy", "I see {s} as essential to democracy"),
    ),
    _single(
        "Q250",
        "How important is it to you to live in a democratically governed country?",
        (
            "Living in a democratically governed country is very unimportant to me",
            "Living in a democratically governed country is of limited importance to me",
            "Living in a democratically governed country is fairly important to me",
            "Living in a democratically governed country is extremely important to me",
        ),
        (
            "Living in a democratically governed country is unimportant to me",
            "Living in a democratically governed country is important to me",
        ),
    ),
    _single(
        "Q251",
        "How democratically is your country governed today?",
        (
            "I think my country is run very undemocratically today",
            "I think my country is run rather undemocratically today",
            "I think my country is run fairly democratically today",
            "I think my country is run very democratically today",
        ),
        ("I think my country is run undemocratically today", "I think my country is run democratically today"),
    ),
    _single(
        "Q252",
        "How satisfied are you with how the political system works in your country?",
        (
            "I am very unhappy with how my country's political system works today",
            "I am somewhat unhappy with how my country's political system works today",
            "I am somewhat content with how my country's political system works today",
            "I am very content with how my country's political system works today",
        ),
        (
            "I am unhappy with how my country's political system works today",
            "I am content with how my country's political system works today",
        ),
    ),
    _single(
        "Q253",
        "How much respect is there for individual human rights in your country today?",
        (
            "I think my country shows great respect for individual human rights today",
            "I think my country shows fair respect for individual human rights today",
            "I think my country shows little respect for individual human rights today",
            "I think my country shows no respect at all for individual human rights today",
        ),
        (
            "I think my country respects individual human rights today",
            "I think my country does not respect individual human rights today",
        ),
    ),
    _single(
        "Q254",
        "How proud are you of your nationality?",
        (
            "I feel very proud of my nationality",
            "I feel fairly proud of my nationality",
            "I do not feel very proud of my nationality",
            "I do not feel proud of my nationality at all",
        ),
        ("I feel proud of my nationality", "I do not feel proud of my nationality"),
    ),
    Block(
        {
            "Q255": "my village, town or city",
            "Q256": "my county, region or district",
            "Q257": "my country",
            "Q258": "my continent",
            "Q259": "the world",
        },
        "Feeling close to {s}",
        (
            "I feel a very strong bond with {s}",
            "I feel a fairly strong bond with {s}",
            "I feel only a weak bond with {s}",
            "I feel no bond at all with {s}",
        ),
        ("I identify with {s}", "I do not identify with {s}"),
    ),
)


# Demographics: id -> (readable name, statement template). Value names are facts and come from
# the published metadata, except where the published value was a whole sentence (see below).
DEMOGRAPHICS: dict[str, tuple[str, str]] = {
    "B_COUNTRY": ("Country of interview", "My current country of residence is {value}"),
    "B_COUNTRY_to_continent": ("Continent of interview", "The continent I live on is {value}"),
    "Q260": ("Sex", "My sex is {value}"),
    "X003R": ("Age group", "My age group is {value}"),
    "Q263": ("Immigration status", "In this country I am {value}"),
    "Q264": ("Mother immigrant", "With respect to this country, my mother is {value}"),
    "Q265": ("Father immigrant", "With respect to this country, my father is {value}"),
    "Q266": ("Country of birth", "My country of birth is {value}"),
    "Q267": ("Mother's country of birth", "My mother's country of birth is {value}"),
    "Q268": ("Father's country of birth", "My father's country of birth is {value}"),
    "Q269": ("Citizenship", "My legal status: {value} of this country"),
    "Q270": ("Household size", "Counting me, there {value} under my roof"),
    "Q271": ("Lives with parents", "I {value} in the same home as my parents or parents-in-law"),
    "Q272": ("Language at home", "The language I mostly use at home is {value}"),
    "Q273": ("Marital status", "My marital status is {value}"),
    "Q274": ("Number of children", "My family includes {value} of my own"),
    "Q275": ("Education", "My highest completed level of education is {value}"),
    "Q276": ("Partner's education", "My spouse or partner's highest completed level of education is {value}"),
    "Q277": ("Mother's education", "My mother's highest completed level of education is {value}"),
    "Q278": ("Father's education", "My father's highest completed level of education is {value}"),
    "Q279": ("Employment status", "In terms of work, I am {value}"),
    "Q280": ("Partner's employment status", "In terms of work, my spouse or partner is {value}"),
    "Q281": ("Occupation", "As for occupation, I have {value}"),
    "Q282": ("Partner's occupation", "As for occupation, my spouse or partner has {value}"),
    "Q284": ("Employment sector", "I am or was employed by a {value}"),
    "Q285": ("Chief wage earner", "Among the people in my home, I am {value}"),
    "Q286": ("Family saving", "Over the past year my family {value} to put money aside"),
    "Q287": ("Social class", "I see myself as part of the {value}"),
    "Q288R": ("Income", "My household falls in the {value} income group of my country"),
    "Q289": ("Religion", "My religious affiliation is {value}"),
    "Q290": ("Ethnic group", "My ethnic group is {value}"),
}

# The published Q263 values are whole sentences (its template is only the slot); ours are labels.
VALUE_OVERRIDES: dict[str, dict[int, str]] = {
    "Q263": {1: "native-born", 2: "an immigrant"},
}
