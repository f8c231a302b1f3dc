"""The words a kind of business uses on its site, for the offline responders.

A few kinds have their own vocabulary (food, health, professional services, fitness); any other
brief gets a generic one that fits a small business of any trade. Each list is copy a visitor
reads: services, reasons, quotes, questions with their answers, numbers, roles, captions.
`{brand}`, `{place}` (with "in " before it, or empty), `{trade}` and `{topic}` are filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EXTRA_PAGES",
    "KINDS",
    "PAGE_INTROS",
    "PAGE_SECTION",
    "PAGE_TITLES",
    "SECTION_PURPOSES",
    "Vocabulary",
    "vocabulary",
]

Pair = tuple[str, str]


@dataclass(frozen=True)
class Vocabulary:
    customers: str  # what the business calls the people it serves
    action: str  # the main call to action
    invitation: str  # the call-to-action section's sentence
    hours: str  # the footer's opening hours
    services_title: str  # what the services page and section are called
    taglines: tuple[str, ...]
    story: str  # one sentence on why the business exists
    services: tuple[Pair, ...]
    features: tuple[Pair, ...]
    testimonials: tuple[Pair, ...]  # (who, quote)
    faq: tuple[Pair, ...]  # (question, answer)
    stats: tuple[Pair, ...]  # (figure, what it counts)
    team: tuple[Pair, ...]  # (role, line)
    gallery: tuple[Pair, ...]
    moods: tuple[str, ...]


_FOOD = Vocabulary(
    customers="guests",
    action="Visit us",
    invitation="Come by for breakfast, or order ahead for the weekend.",
    hours="Tuesday to Sunday, 7:30 to 18:00",
    services_title="On the menu",
    taglines=("Baked and brewed{place}, every morning", "Good food, made slowly{place}"),
    story="{brand} began with one oven and a simple rule: make it fresh, make it by hand.",
    services=(
        ("Breakfast and lunch", "Seasonal plates, soups and sandwiches from our own kitchen."),
        ("Order ahead", "Reserve loaves and cakes the day before and collect on your way."),
        ("Catering", "Platters and boxes for offices, birthdays and gatherings."),
        ("Weekend workshops", "Learn to shape, proof and bake with our team."),
        ("Coffee to go", "Espresso, filter and tea, ready in minutes."),
    ),
    features=(
        ("Made on site", "Everything on the counter is made in our kitchen, every day."),
        ("Local flour and produce", "We buy from farms and mills near {placename}."),
        ("Slow fermentation", "Doughs rest overnight for flavour and a better crust."),
        ("A seat for everyone", "Tables inside, a bench outside, and room for prams."),
    ),
    testimonials=(
        ("Inês, regular", "The best {topic} I have had{place}. I come back every Saturday."),
        ("Tom, first visit", "Warm welcome, great coffee, and the pastries sold out by noon."),
        ("Ana and Rui", "We ordered our wedding cake here and every guest asked where from."),
    ),
    faq=(
        ("Do you take orders?", "Yes: order by phone or in the shop the day before."),
        ("Is there anything gluten-free?", "A few cakes are; ask us and we list what is in each."),
        ("Can I book a table?", "Tables are first come, first served; groups can call ahead."),
        ("Do you cater events?", "Yes, for 10 to 120 people, with a week's notice."),
    ),
    stats=(
        ("48 hours", "of fermentation for our sourdough"),
        ("6 mornings", "a week, from 7:30"),
        ("12 suppliers", "within a day's drive"),
    ),
    team=(
        ("Head baker", "Starts the ovens at four and has never missed a morning."),
        ("Pastry chef", "Makes the cakes, tarts and the pastries that sell out first."),
        ("Front of house", "Knows the regulars by name and their orders by heart."),
    ),
    gallery=(("The counter", "Fresh from the oven"), ("The kitchen", "Where the work happens")),
    moods=("warm", "crafted", "honest", "bright"),
)

_HEALTH = Vocabulary(
    customers="patients",
    action="Book an appointment",
    invitation="New patients are welcome: book online or call us.",
    hours="Monday to Friday, 8:00 to 19:00",
    services_title="Treatments",
    taglines=("Careful, gentle care{place}", "Your health, in good hands{place}"),
    story="{brand} was founded to give every patient time, clear answers and gentle care.",
    services=(
        ("Check-ups", "A full examination with time for your questions."),
        ("Preventive care", "Cleaning, screening and advice to avoid problems later."),
        ("Treatment", "Modern treatment planned with you, step by step."),
        ("Emergency appointments", "Same-day slots for pain and urgent problems."),
        ("Care for children", "Calm, friendly visits that children look forward to."),
    ),
    features=(
        ("Time for you", "Appointments are never rushed; we explain before we treat."),
        ("Clear prices", "You get a written plan and its cost before any treatment."),
        ("Modern equipment", "Up-to-date tools for precise, comfortable care."),
        ("Easy to reach", "Evening slots twice a week, and a reminder before each visit."),
    ),
    testimonials=(
        ("Keiko, patient", "Friendly staff, no waiting, and everything explained clearly."),
        ("Daniel, patient", "I used to dread appointments. Not any more."),
        ("The Silva family", "Our children actually ask when they can come back."),
    ),
    faq=(
        ("Do you accept new patients?", "Yes: book online or call, usually within a week."),
        ("What does a first visit cost?", "A first check-up is a fixed fee; we tell you before."),
        ("Do you see emergencies?", "Yes, we keep same-day slots for urgent cases."),
        ("How do I prepare?", "Bring any previous records and a list of your medicines."),
    ),
    stats=(
        ("15 years", "of care{place}"),
        ("Same day", "emergency appointments"),
        ("4.9 / 5", "from patient reviews"),
    ),
    team=(
        ("Lead clinician", "Fifteen years of practice and still loves the first visit."),
        ("Hygienist", "Prevention first, with patience and practical advice."),
        ("Reception", "Finds you a slot that fits and answers every call."),
    ),
    gallery=(("Treatment room", "Bright and calm"), ("Waiting area", "Comfortable and quiet")),
    moods=("calm", "clean", "reassuring", "bright"),
)

_PROFESSIONAL = Vocabulary(
    customers="clients",
    action="Book a call",
    invitation="Tell us what you need: the first call is free.",
    hours="Monday to Friday, 9:00 to 18:00",
    services_title="Services",
    taglines=("Clear advice{place}", "Straight answers, good work{place}"),
    story="{brand} was set up to give clients advice they can act on, in plain words.",
    services=(
        ("First consultation", "A short call to understand your situation and what you need."),
        ("Advice and planning", "A written plan with options, risks and costs."),
        ("Ongoing support", "A fixed monthly fee, and answers when you need them."),
        ("Documents and filings", "Prepared, checked and submitted on time."),
    ),
    features=(
        ("Plain words", "We explain what matters and skip what does not."),
        ("Fixed fees", "You know the price before we start."),
        ("One contact", "The same person follows your file from start to finish."),
        ("Fast replies", "An answer within one working day."),
    ),
    testimonials=(
        ("Marta, founder", "They made a complicated process simple and fast."),
        ("Paulo, client", "Clear advice, fair fees, and always reachable."),
        ("A local business owner", "The first firm that explained things before billing."),
    ),
    faq=(
        ("How much does it cost?", "Most work is at a fixed fee we agree before starting."),
        ("Do you work remotely?", "Yes: meetings by video, documents signed online."),
        ("How fast can you start?", "Usually within the week of our first call."),
        ("Who will handle my case?", "One named advisor, from first call to last document."),
    ),
    stats=(
        ("200+", "clients advised"),
        ("1 day", "to answer any email"),
        ("12 years", "in practice"),
    ),
    team=(
        ("Founding partner", "Leads client work and every first consultation."),
        ("Senior advisor", "Turns complex rules into clear, practical steps."),
        ("Client manager", "Keeps every deadline and every client informed."),
    ),
    gallery=(("The office", "Where we meet clients"), ("At work", "Reviewing a client file")),
    moods=("confident", "clear", "calm", "precise"),
)

_FITNESS = Vocabulary(
    customers="members",
    action="Try a free class",
    invitation="Your first class is free. Come as you are.",
    hours="Every day, 7:00 to 21:00",
    services_title="Classes",
    taglines=("Move better{place}", "Stronger every week{place}"),
    story="{brand} started as a small room and a big idea: training that fits real lives.",
    services=(
        ("Beginner classes", "Small groups that start from the basics, at your pace."),
        ("Open sessions", "Practice on your own with a coach nearby."),
        ("Private coaching", "A plan built around your goals and your week."),
        ("Workshops", "Weekend sessions on technique, mobility and breathing."),
    ),
    features=(
        ("Small classes", "Never more than twelve people, so coaches see everyone."),
        ("All levels", "Every class has an easier and a harder option."),
        ("Flexible passes", "Pay per class or monthly; pause when you travel."),
        ("Early and late", "Classes from 7 in the morning to 9 at night."),
    ),
    testimonials=(
        ("Rita, member", "I came for one class and stayed for the people."),
        ("Joe, beginner", "Patient coaches and no pressure. I never felt out of place."),
        ("Lena, member", "Six months in and my back pain is gone."),
    ),
    faq=(
        ("I am a complete beginner. Can I join?", "Yes: beginner classes start every week."),
        ("What should I bring?", "Comfortable clothes and water; we lend mats."),
        ("How do I book?", "Online or at the desk, up to a week ahead."),
        ("Is the first class free?", "Yes, your first class is on us."),
    ),
    stats=(("30 classes", "every week"), ("12 people", "per class at most"), ("7 days", "a week")),
    team=(
        ("Head coach", "Fifteen years of teaching and a knack for beginners."),
        ("Coach", "Strength, mobility and a good playlist."),
        ("Studio manager", "Keeps the timetable running and the tea warm."),
    ),
    gallery=(("The studio", "Light, space and quiet"), ("In class", "Focus and good form")),
    moods=("bold", "energetic", "friendly", "fresh"),
)

_GENERIC = Vocabulary(
    customers="customers",
    action="Get in touch",
    invitation="Tell us what you need and we reply within a working day.",
    hours="Monday to Saturday, 10:00 to 18:00",
    services_title="What we offer",
    taglines=("Made with care{place}", "Quality you can see{place}"),
    story="{brand} exists to do one thing well: {topic}, done properly and with care.",
    services=(
        ("Made to order", "Tell us what you need and we make it to measure."),
        ("Advice", "Not sure what to choose? We help you decide."),
        ("Repairs and care", "We look after what you bought from us, for years."),
        ("Classes", "Learn the craft with us in small groups."),
    ),
    features=(
        ("Done by hand", "Every piece passes through our hands, start to finish."),
        ("Honest prices", "Clear prices, no surprises at the end."),
        ("Personal service", "You talk to the people who do the work."),
        ("Built to last", "Good materials and careful work, made to be used."),
    ),
    testimonials=(
        ("Clara, customer", "Beautiful work and a real pleasure to deal with."),
        ("Sam, customer", "Exactly what I asked for, and on time."),
        ("Ahmed, regular", "I recommend {brand} to everyone I know."),
    ),
    faq=(
        ("How do I order?", "Write to us or call; we reply within a working day."),
        ("How long does it take?", "Most orders are ready within two weeks."),
        ("Can I visit?", "Yes, come by during opening hours or book a time."),
        ("Do you deliver?", "Yes, locally, and we ship further afield."),
    ),
    stats=(
        ("10 years", "of practice"),
        ("1,000+", "happy customers"),
        ("2 weeks", "typical turnaround"),
    ),
    team=(
        ("Founder", "Started {brand} and still does the work every day."),
        ("Maker", "Careful hands and an eye for detail."),
        ("Customer care", "Answers your questions and keeps your order on track."),
    ),
    gallery=(("The workshop", "Where it is made"), ("The details", "Up close")),
    moods=("warm", "honest", "crafted", "calm"),
)

KINDS: dict[str, Vocabulary] = {
    "food": _FOOD,
    "health": _HEALTH,
    "professional": _PROFESSIONAL,
    "fitness": _FITNESS,
    "generic": _GENERIC,
}


def vocabulary(kind: str) -> Vocabulary:
    return KINDS.get(kind, _GENERIC)


# Pages beyond the home and contact pages, in the order a site gains them, with their titles,
# the section each page is about, and the sentence that opens it.
EXTRA_PAGES = (
    "about", "services", "gallery", "team", "faq", "pricing", "testimonials", "process",
    "journal", "events", "visit", "careers", "partners", "community", "press", "resources",
    "sustainability", "locations",
)  # fmt: skip
PAGE_TITLES = {
    "about": "About", "gallery": "Gallery", "team": "Team", "faq": "FAQ", "pricing": "Prices",
    "testimonials": "Reviews", "process": "How it works", "journal": "Journal",
    "events": "Events", "visit": "Visit", "careers": "Careers", "partners": "Partners",
    "community": "Community", "press": "Press", "resources": "Resources",
    "sustainability": "Sustainability", "locations": "Locations", "contact": "Contact",
}  # fmt: skip
PAGE_SECTION = {
    "about": "story", "services": "services", "gallery": "gallery", "team": "team",
    "faq": "faq", "pricing": "stats", "testimonials": "testimonials", "process": "features",
    "journal": "story", "events": "features", "visit": "contact", "careers": "team",
    "partners": "testimonials", "community": "story", "press": "testimonials",
    "resources": "faq", "sustainability": "stats", "locations": "contact",
}  # fmt: skip
PAGE_INTROS = {
    "about": "The story, the values and the people behind {brand}.",
    "services": "What {brand} offers{place}, and how to get it.",
    "gallery": "A look at {brand}: the place, the work and the details.",
    "team": "Meet the people behind {brand}.",
    "faq": "Answers to the questions our {customers} ask most.",
    "pricing": "Clear prices, with nothing hidden.",
    "testimonials": "What our {customers} say about {brand}.",
    "process": "How it works at {brand}, from the first contact to the last detail.",
    "journal": "News and notes from {brand}.",
    "events": "Dates to remember at {brand}.",
    "careers": "Work with us: {brand} is always glad to meet good people.",
    "partners": "The people and companies {brand} works with.",
    "community": "What {brand} does{place} beyond the day's work.",
    "press": "What others have written about {brand}.",
    "resources": "Guides and answers for our {customers}.",
    "sustainability": "How {brand} keeps its footprint small.",
    "contact": "Where to find {brand}, and when we are open.",
}
SECTION_PURPOSES = {
    "hero": "What {brand} offers, at a glance",
    "features": "Why people choose {brand}",
    "story": "Where {brand} comes from",
    "services": "What {brand} offers",
    "testimonials": "Words from {customers}",
    "gallery": "Pictures of the place and the work",
    "faq": "Questions people ask before they come",
    "stats": "A few numbers about {brand}",
    "team": "The people behind the work",
    "cta": "The next step for a visitor",
    "contact": "How and where to reach {brand}",
}
