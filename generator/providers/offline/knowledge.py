"""What the offline provider knows about interior styles and room types.

One entry for each of the 60 sub-categories and 24 room types of the shipped catalogue
(``generator/catalog.toml``): an approach, a signature colour with a real name, keywords,
origin, period and a fact for the factual passage, typical materials, and the swatch
patterns that suit the style; for rooms, purpose, key pieces, materials, where the
colour goes and a companion colour for room images. Slugs a custom plan adds get a
deterministic generic profile from ``generic_style`` / ``generic_room`` instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class StyleNotes:
    """Reference notes on one interior style."""

    approach: str
    colour: tuple[str, str]  # (name, "#rrggbb")
    keywords: tuple[str, ...]
    origin: str  # reads after "comes from"
    era: str
    fact: str
    materials: tuple[str, ...]
    patterns: tuple[str, ...]
    known: bool = True


@dataclass(frozen=True)
class RoomNotes:
    """Reference notes on one room type."""

    purpose: str  # reads after "A <room>"
    key_pieces: tuple[str, ...]
    materials: tuple[str, ...]
    surface: str  # where the signature colour goes
    colour: tuple[str, str]  # the room's companion colour in images
    known: bool = True


def _s(
    approach: str,
    colour: tuple[str, str],
    keywords: str,
    origin: str,
    era: str,
    fact: str,
    materials: str,
    patterns: str,
) -> StyleNotes:
    return StyleNotes(
        approach=approach,
        colour=colour,
        keywords=tuple(keywords.split("; ")),
        origin=origin,
        era=era,
        fact=fact,
        materials=tuple(materials.split("; ")),
        patterns=tuple(patterns.split()),
    )


STYLES: dict[str, StyleNotes] = {
    "art-deco": _s(
        "Geometric glamour: stepped silhouettes, sunburst and fan motifs, and lacquered, "
        "mirrored and metallic surfaces set against deep, saturated colour.",
        ("Brass Gold", "#b5903c"),
        "geometric; sunburst; lacquer; brass; symmetry; glamour",
        "France",
        "1920s–1930s",
        "It is named after the 1925 Exposition internationale des Arts décoratifs et "
        "industriels modernes in Paris, although the term itself was coined only in the 1960s.",
        "brass; black lacquer; marble; velvet",
        "scallops chevron rings stripes",
    ),
    "japandi": _s(
        "A quiet hybrid of Japanese restraint and Scandinavian comfort: low, well-made "
        "furniture, pale and dark woods side by side, and nothing on display that is not "
        "loved or used.",
        ("Sumi Ink", "#34312d"),
        "minimal; natural wood; craftsmanship; calm; functional",
        "Japan and Scandinavia",
        "a 2010s blend of traditions with a long shared history",
        "The name joins 'Japan' and 'Scandi'; the blend rests on ideals the two traditions "
        "share, the Japanese 'ma' (meaningful empty space) and Scandinavian 'hygge' (cosy "
        "contentment), and became a named trend in the late 2010s.",
        "oak; ash; paper; linen; stoneware",
        "stripes grid bands",
    ),
    "wabi-sabi": _s(
        "Beauty in the imperfect, impermanent and incomplete: hand-made, weathered "
        "surfaces, asymmetry, and a palette taken from earth, ash and moss.",
        ("Clay", "#a0785a"),
        "imperfection; handmade; patina; asymmetry; earthy",
        "Japan",
        "rooted in 15th–16th-century tea culture",
        "The aesthetic grew out of the Japanese tea ceremony, where masters such as Sen no "
        "Rikyū preferred rustic, irregular wares to polished imported ceramics.",
        "lime plaster; unglazed ceramic; reclaimed wood; raw linen",
        "bands gradient rings",
    ),
    "mid-century-modern": _s(
        "Clean lines and organic curves on tapered legs, warm teak and walnut against bold "
        "accent colours, and a relaxed flow between indoors and out.",
        ("Mustard", "#d4a02b"),
        "tapered legs; teak; organic curves; atomic; open plan",
        "the United States and Scandinavia",
        "c. 1945–1969",
        "Designers such as Charles and Ray Eames, Eero Saarinen and Arne Jacobsen turned "
        "wartime advances in moulded plywood, fibreglass and steel into affordable, "
        "mass-produced furniture.",
        "teak; walnut; moulded plywood; fibreglass",
        "dots stripes blocks",
    ),
    "scandinavian": _s(
        "Light-filled, functional and warm: white and pale-wood rooms softened with "
        "textiles, where every piece is simple, useful and comfortable.",
        ("Nordic Blue", "#6c8aa3"),
        "light; functional; hygge; pale wood; cosy textiles",
        "Denmark, Sweden, Norway and Finland",
        "1930s–1960s",
        "The travelling exhibition 'Design in Scandinavia' toured North America from 1954 "
        "to 1957 and made the style internationally famous.",
        "birch; pine; wool; linen",
        "stripes checks grid",
    ),
    "industrial": _s(
        "Warehouse bones left honest: exposed brick, ductwork and steel, open plans, and "
        "reclaimed wood and leather to keep it liveable.",
        ("Gunmetal", "#53565a"),
        "exposed brick; steel; reclaimed wood; Edison bulbs; open plan",
        "New York and other post-industrial cities",
        "1970s onward",
        "The look spread as artists converted disused factories and warehouses into lofts, "
        "notably in New York's SoHo in the 1960s and 1970s.",
        "blackened steel; exposed brick; concrete; reclaimed timber; leather",
        "grid stripes herringbone",
    ),
    "bohemian": _s(
        "Layered, collected and free-spirited: global textiles, plants, low seating and "
        "vintage finds in warm, saturated colour, arranged by feeling rather than rule.",
        ("Burnt Orange", "#cc5a1e"),
        "layered textiles; plants; global; vintage; rattan",
        "Paris, and later California",
        "19th-century artistic Paris, revived in the 1960s–70s",
        "The word comes from the French 'bohémien', used for the artists and writers who "
        "lived unconventional lives in 19th-century Paris.",
        "rattan; macramé; kilim wool; brass",
        "dots chevron plaid bands",
    ),
    "coastal": _s(
        "Breezy and sun-washed: white and sand tones with ocean blues, natural fibres, "
        "slipcovered seating and plenty of light and air.",
        ("Sea Blue", "#4f8fb0"),
        "breezy; natural fibres; sand tones; light; linen",
        "seaside homes of the United States",
        "20th century onward",
        "Coastal style grew out of holiday houses on the American East and West Coasts, "
        "favouring durable, washable materials suited to sand and salt air.",
        "whitewashed wood; jute; linen; seagrass",
        "stripes bands gradient",
    ),
    "farmhouse": _s(
        "Practical rural comfort made modern: shiplap and beams, big family tables, open "
        "shelving, apron sinks and a soft neutral palette.",
        ("Sage Green", "#9caf88"),
        "shiplap; reclaimed beams; apron sink; open shelving; rustic",
        "the rural United States",
        "18th–19th-century farmhouses, modernised in the 2010s",
        "The modern farmhouse revival took off in the 2010s, helped by home-renovation "
        "television, drawing on the plain, practical interiors of American farmhouses.",
        "shiplap; reclaimed wood; galvanised metal; cotton ticking",
        "checks plaid stripes",
    ),
    "hollywood-regency": _s(
        "Unabashed glamour: lacquer, mirror and gilt, bold colour and high-contrast "
        "pattern, tufted velvet and theatrical symmetry.",
        ("Emerald", "#1f7a5a"),
        "glamour; mirrored; gilt; tufted velvet; high contrast; lacquer",
        "Los Angeles",
        "1930s–1950s",
        "Decorators such as Dorothy Draper and William Haines created the look for "
        "Hollywood's golden-age stars; Kelly Wearstler revived it in the 2000s.",
        "lacquer; mirror; gilded metal; velvet",
        "stripes checks scallops",
    ),
    "memphis": _s(
        "Playful postmodern rebellion: clashing primaries and pastels, squiggles and "
        "terrazzo-like patterns, and furniture built from bold geometric blocks.",
        ("Flamingo Pink", "#f28fb0"),
        "squiggles; bold colour; geometric; laminate; playful",
        "Milan, Italy",
        "1981–1987",
        "The Memphis Group formed around Ettore Sottsass in Milan in December 1980, showed "
        "its first collection in 1981 and took its name from Bob Dylan's song 'Stuck "
        "Inside of Mobile with the Memphis Blues Again'.",
        "plastic laminate; terrazzo; lacquered wood; chrome",
        "dots blocks chevron",
    ),
    "bauhaus": _s(
        "Form follows function: honest industrial materials, tubular steel and primary "
        "colours, and furniture reduced to its essential geometry.",
        ("Signal Red", "#c8322b"),
        "functional; tubular steel; primary colours; geometric; industrial",
        "Germany",
        "1919–1933",
        "Walter Gropius founded the Bauhaus school in Weimar in 1919; it moved to Dessau in "
        "1925 and closed under Nazi pressure in 1933.",
        "tubular steel; glass; leather; plywood",
        "blocks rings grid",
    ),
    "brutalist": _s(
        "Raw mass and monumental calm: board-formed concrete, chunky sculptural furniture "
        "and a restrained earthy palette that lets texture do the talking.",
        ("Concrete Grey", "#8c8a85"),
        "raw concrete; monolithic; sculptural; texture; geometric",
        "Britain and continental Europe",
        "1950s–1970s",
        "The name derives from 'béton brut' (raw concrete), Le Corbusier's term for the "
        "board-marked concrete of his Unité d'habitation in Marseille (1952).",
        "board-formed concrete; travertine; oak; wool bouclé",
        "blocks bands grid",
    ),
    "maximalist": _s(
        "More is more, done with intent: saturated colour, pattern on pattern, curated "
        "collections and layered art, held together by a repeated palette.",
        ("Fuchsia", "#b0306a"),
        "pattern mixing; bold colour; collections; layered; gallery wall",
        "no single place: it is an international mood",
        "Victorian roots, revived in the late 2010s",
        "Its motto is often given as Iris Apfel's 'More is more and less is a bore'; it "
        "returned in the late 2010s as a reaction to two decades of minimalism.",
        "velvet; patterned wallpaper; lacquer; brass",
        "plaid dots chevron scallops",
    ),
    "minimalist": _s(
        "Less, but better: uncluttered space, concealed storage, a tight neutral palette "
        "and few pieces, each chosen for form and function.",
        ("Warm White", "#ece8e1"),
        "uncluttered; negative space; neutral; clean lines; concealed storage",
        "Japan, Germany and the United States",
        "1960s onward",
        "It draws on Mies van der Rohe's 'less is more', Dieter Rams's 'less, but better' "
        "and traditional Japanese interiors.",
        "plaster; pale oak; glass; stone",
        "bands grid gradient",
    ),
    "art-nouveau": _s(
        "Nature in motion: whiplash curves, flowers, vines and dragonflies worked into "
        "wood, iron and glass, with every detail designed as one whole.",
        ("Peacock Blue", "#1f5f7a"),
        "whiplash curves; floral; stained glass; organic; wrought iron",
        "Brussels and Paris",
        "c. 1890–1910",
        "The name comes from Siegfried Bing's Paris gallery, the Maison de l'Art Nouveau "
        "(1895); Victor Horta's Hôtel Tassel in Brussels (1893) is often called the first "
        "Art Nouveau house.",
        "carved wood; wrought iron; stained glass; mosaic",
        "rings scallops gradient",
    ),
    "victorian": _s(
        "Rich, ornate and layered: dark wood, patterned wallpaper, heavy drapery, carved "
        "furniture and rooms full of collected objects.",
        ("Oxblood", "#6b1f1f"),
        "ornate; dark wood; patterned wallpaper; heavy drapery; antiques",
        "Britain",
        "1837–1901",
        "Named after Queen Victoria's reign, it was fuelled by industrial mass production, "
        "which made wallpaper, carpets and upholstered furniture affordable to the middle "
        "class.",
        "mahogany; velvet; brocade; cast iron",
        "stripes plaid checks",
    ),
    "french-country": _s(
        "Sun-warmed Provençal comfort: distressed painted furniture, toile and Provençal "
        "prints, rush-seat chairs, terracotta floors and lavender and yellow hues.",
        ("Lavender", "#9a8cbf"),
        "toile; distressed finishes; terracotta; rush seats; Provençal prints",
        "Provence, in the south of France",
        "17th–18th-century rural France, popular since the 20th century",
        "It borrows from Provençal farmhouses, including the block-printed cottons called "
        "indiennes, first inspired by Indian textiles imported through Marseille in the "
        "17th century.",
        "terracotta tile; painted oak; toile cotton; wrought iron",
        "checks plaid dots",
    ),
    "mediterranean": _s(
        "Sun, sea and thick walls: whitewashed plaster, terracotta and patterned tile, "
        "arches, wrought iron and the blues and ochres of the coast.",
        ("Aegean Blue", "#2b6ca3"),
        "whitewash; terracotta; arches; patterned tile; wrought iron",
        "Greece, Italy and Spain",
        "vernacular tradition, popular worldwide from the 1920s",
        "It draws on the vernacular houses around the Mediterranean, where thick, "
        "lime-washed walls and tiled floors keep rooms cool in summer.",
        "lime plaster; terracotta; glazed tile; wrought iron",
        "checks scallops stripes",
    ),
    "moroccan": _s(
        "Lantern-lit richness: zellige tile, carved cedar and plaster, arched niches, low "
        "cushioned seating and jewel tones with brass.",
        ("Majorelle Blue", "#6050dc"),
        "zellige; lanterns; arches; low seating; jewel tones",
        "Morocco",
        "rooted in medieval Moorish and Islamic architecture",
        "It draws on riads built around courtyards and on crafts such as zellige mosaic, "
        "carved cedar and polished tadelakt plaster; Majorelle blue is named after the "
        "painter Jacques Majorelle's garden in Marrakesh.",
        "zellige tile; tadelakt; carved cedar; hammered brass",
        "scallops rings chevron",
    ),
    "rustic": _s(
        "Rugged and elemental: rough-hewn timber, stone fireplaces, wrought iron and heavy "
        "textiles in the browns and greens of the woods.",
        ("Walnut Brown", "#5c3b26"),
        "rough-hewn wood; stone fireplace; natural textures; wrought iron; earthy",
        "rural North America and Europe",
        "traditional; the American cabin look from the late 19th century",
        "The Adirondack 'Great Camps' of the late 19th century turned logs, bark and twigs "
        "into a deliberate decorative style for wealthy holidaymakers.",
        "rough-sawn timber; fieldstone; wrought iron; wool plaid",
        "plaid checks bands",
    ),
    "shabby-chic": _s(
        "Soft, romantic and gently worn: chippy white-painted furniture, faded florals, "
        "slipcovers, crystal chandeliers and pastel linens.",
        ("Duck Egg Blue", "#c5dbd4"),
        "distressed white; faded florals; slipcovers; vintage; romantic",
        "Britain",
        "1980s onward",
        "The term was coined by The World of Interiors magazine in the 1980s, and Rachel "
        "Ashwell popularised the look with her Shabby Chic shops from 1989.",
        "chalk-painted wood; washed cotton; crystal; lace",
        "dots checks stripes",
    ),
    "traditional": _s(
        "Timeless comfort rooted in 18th- and 19th-century European décor: symmetrical "
        "arrangements, dark polished wood, rich fabrics and classic patterns.",
        ("Hunter Green", "#355e3b"),
        "symmetry; classic furniture; rich fabrics; polished wood; antiques",
        "Europe and North America",
        "18th–19th-century sources, continuously popular",
        "It borrows from English Georgian and Regency and French Louis XV and XVI "
        "furniture, often in reproductions of designs by Chippendale, Hepplewhite and "
        "Sheraton.",
        "mahogany; damask; brass; wool rugs",
        "plaid stripes checks",
    ),
    "transitional": _s(
        "The bridge between traditional and contemporary: classic silhouettes with clean "
        "lines, neutral palettes, and texture in place of ornament.",
        ("Greige", "#a8a094"),
        "neutral palette; clean lines; texture; balance; comfort",
        "the United States",
        "1950s onward, widespread since the 1990s",
        "It emerged as designers paired traditional furniture forms with modern "
        "simplicity, and its neutral, texture-led palette became a staple of American "
        "homes from the 1990s.",
        "performance linen; oak; polished nickel; wool bouclé",
        "grid stripes gradient",
    ),
    "contemporary": _s(
        "Of the moment: clean lines, neutral bases with bold accents, mixed metals and "
        "sculptural lighting, always evolving with current design.",
        ("Charcoal", "#3a3d42"),
        "clean lines; neutral base; bold accents; sculptural lighting; mixed metals",
        "no single place: it follows current international design",
        "1970s onward, always current",
        "Unlike 'modern', which names the early-to-mid-20th-century movement, "
        "'contemporary' means the design of the present, so its vocabulary keeps changing.",
        "lacquer; glass; brushed steel; wool",
        "blocks gradient stripes",
    ),
    "eclectic": _s(
        "Many periods, one eye: pieces from different eras and cultures tied together by "
        "a repeated palette, scale and texture.",
        ("Teal", "#2a7f7f"),
        "mix of eras; curated; contrast; repeated colour; personality",
        "no single place: it mixes sources from everywhere",
        "19th-century eclecticism, mainstream since the late 20th century",
        "Designers often repeat a colour or material at least three times in a room so "
        "that a mix of periods reads as intentional rather than accidental.",
        "vintage wood; brass; velvet; ceramic",
        "plaid dots blocks scallops",
    ),
    "organic-modern": _s(
        "Modern lines softened by nature: rounded forms, raw wood, stone and bouclé, warm "
        "neutrals and plenty of plants and daylight.",
        ("Oatmeal", "#d2c3a8"),
        "curves; natural materials; warm neutrals; bouclé; plants",
        "no single place: it is an international trend",
        "2010s–2020s",
        "It extends the organic design of the mid-century — Frank Lloyd Wright's 'organic "
        "architecture' and Isamu Noguchi's biomorphic furniture — with today's preference "
        "for natural, sustainable materials.",
        "white oak; travertine; bouclé; clay plaster",
        "rings gradient bands",
    ),
    "biophilic": _s(
        "Nature as a design material: daylight and views, living walls and plants, natural "
        "materials, water and organic forms that calm and restore.",
        ("Fern Green", "#4f7942"),
        "living walls; daylight; natural materials; organic forms; water",
        "no single place: it is an international movement",
        "2000s onward",
        "The idea comes from E. O. Wilson's 1984 book 'Biophilia', which argued that humans "
        "need contact with nature; Stephen Kellert later set out biophilic design "
        "principles.",
        "living plants; timber; stone; natural fibres",
        "gradient rings chevron",
    ),
    "tropical": _s(
        "Lush and breezy: palm-frond and banana-leaf prints, rattan and bamboo, ceiling "
        "fans, louvred shutters and indoor greenery.",
        ("Banana Leaf", "#5b8c3a"),
        "palm prints; rattan; bamboo; louvres; greenery",
        "the Caribbean, Hawaii and Southeast Asia",
        "20th century onward",
        "Don Loper's 'Martinique' banana-leaf wallpaper, designed in 1942 for the Beverly "
        "Hills Hotel, became a lasting emblem of the look.",
        "rattan; bamboo; teak; cotton",
        "stripes chevron dots",
    ),
    "british-colonial": _s(
        "Tropical formality: dark-stained campaign and planter's furniture, caned seats, "
        "palms and ceiling fans against crisp white walls.",
        ("Khaki", "#b3a17a"),
        "campaign furniture; caning; dark wood; palms; ceiling fans",
        "British colonies in India, the Caribbean and Southeast Asia",
        "18th to early 20th century",
        "It adapted English furniture to hot climates; brass-cornered 'campaign' furniture "
        "was designed to be packed up and carried by travelling officers.",
        "mahogany; cane; brass; linen",
        "stripes grid checks",
    ),
    "hamptons": _s(
        "Relaxed East Coast luxury: crisp white and navy, shingle-style architecture, "
        "slipcovered sofas, rattan and striped linens.",
        ("Navy", "#1f2f4f"),
        "navy and white; slipcovers; rattan; shingle style; relaxed luxury",
        "Long Island, New York",
        "20th century onward",
        "The look takes its name from the Hamptons on Long Island, where shingle-style "
        "summer houses have been built since the late 19th century.",
        "painted timber; rattan; linen; seagrass",
        "stripes checks bands",
    ),
    "california-casual": _s(
        "Sun-washed, easy-going living: light woods, linen slipcovers, woven textures and "
        "a soft palette that lets indoors and outdoors blend.",
        ("Sandstone", "#d6b48a"),
        "indoor-outdoor; light wood; linen; relaxed; natural light",
        "California",
        "1950s onward",
        "It descends from the indoor-outdoor living of mid-century California houses such "
        "as the Case Study Houses (1945–1966).",
        "white oak; linen; jute; terracotta",
        "stripes gradient bands",
    ),
    "desert-modern": _s(
        "Mid-century modernism in the desert: low, flat-roofed, glass-walled rooms, breeze "
        "blocks, sun-bleached earth tones and cacti.",
        ("Desert Rose", "#c98b7b"),
        "breeze blocks; glass walls; earth tones; indoor-outdoor; cacti",
        "Palm Springs, California",
        "1946 to the 1960s",
        "Architects such as Richard Neutra (Kaufmann Desert House, 1946), Albert Frey and "
        "William Krisel made Palm Springs the centre of the style.",
        "breeze block; terrazzo; glass; steel",
        "dots grid bands",
    ),
    "southwestern": _s(
        "Desert warmth: adobe plaster, exposed vigas, Navajo-inspired textiles, terracotta "
        "and turquoise, and hand-crafted pottery.",
        ("Turquoise", "#3fa7a0"),
        "adobe; vigas; woven textiles; terracotta; turquoise",
        "the American Southwest",
        "traditional; Pueblo Revival from the early 20th century",
        "It draws on Pueblo, Navajo and Spanish colonial building; Santa Fe's 1957 "
        "historic-zoning ordinance required new buildings in its historic district to "
        "follow Pueblo or Territorial styles.",
        "adobe plaster; pine vigas; woven wool; terracotta",
        "chevron bands blocks",
    ),
    "spanish-revival": _s(
        "Sunlit Spanish romance: white stucco walls, dark beams, arched doorways, "
        "hand-painted tile, wrought iron and terracotta floors.",
        ("Terracotta", "#b86446"),
        "stucco; dark beams; arches; hand-painted tile; wrought iron",
        "California and Florida",
        "c. 1915–1940",
        "It took off after the 1915 Panama-California Exposition in San Diego, where "
        "Bertram Goodhue's buildings revived Spanish Baroque and colonial forms.",
        "stucco; terracotta; Talavera tile; wrought iron",
        "scallops checks grid",
    ),
    "tuscan": _s(
        "Rustic Italian warmth: plaster in ochre and sienna, terracotta floors, heavy "
        "beams, wrought iron and well-worn wood around a family table.",
        ("Olive Grove", "#707238"),
        "ochre plaster; terracotta; heavy beams; wrought iron; farmhouse table",
        "Tuscany, in central Italy",
        "traditional; popular abroad from the late 20th century",
        "It draws on Tuscan farmhouses and villas, whose thick stone walls, terracotta "
        "'cotto' floor tiles and beamed ceilings were built from local materials.",
        "cotto terracotta; travertine; chestnut beams; wrought iron",
        "checks stripes bands",
    ),
    "english-country": _s(
        "Comfortable, lived-in country-house charm: chintz and florals, overstuffed sofas, "
        "antiques, dog beds and bookshelves by the fire.",
        ("Rose Madder", "#b5525e"),
        "chintz; overstuffed seating; antiques; layered pattern; country house",
        "England",
        "18th–19th-century country houses, codified in the 20th century",
        "Decorator Nancy Lancaster and John Fowler of Colefax & Fowler defined the "
        "'English country house' look in the mid-20th century.",
        "chintz cotton; oak; needlepoint; wool",
        "plaid checks stripes",
    ),
    "cottagecore": _s(
        "A romantic idyll of rural life: floral prints, dried flowers, handmade crafts, "
        "vintage crockery and well-loved wooden furniture.",
        ("Buttercream", "#f1e3b3"),
        "florals; handmade; dried flowers; vintage; pastoral",
        "online culture, inspired by the English countryside",
        "late 2010s–2020s",
        "The term spread on Tumblr and TikTok around 2018–2020, celebrating slow, rural "
        "domestic life in the spirit of the English cottage garden.",
        "gingham cotton; pine; wicker; crochet",
        "checks dots plaid",
    ),
    "grandmillennial": _s(
        "'Granny chic' for a new generation: chintz, wicker, needlepoint, ruffles and "
        "skirted tables, mixed with fresh colour and a sense of humour.",
        ("Chintz Rose", "#d98a94"),
        "chintz; wicker; needlepoint; ruffles; pleated lampshades",
        "the United States",
        "late 2010s onward",
        "The term was popularised by a 2019 House Beautiful article about millennials "
        "embracing the traditional décor of their grandparents.",
        "wicker; chintz cotton; needlepoint; porcelain",
        "checks plaid dots",
    ),
    "dark-academia": _s(
        "Scholarly and moody: book-lined walls, dark wood and leather, tweed and velvet, "
        "brass lamps and antique maps in deep, muted tones.",
        ("Oxford Brown", "#4e3629"),
        "books; dark wood; leather; tweed; antiques",
        "online culture, inspired by old universities such as Oxford and Cambridge",
        "2010s–2020s",
        "The aesthetic grew on Tumblr in the mid-2010s, inspired by novels such as Donna "
        "Tartt's 'The Secret History' (1992) and by old college libraries.",
        "leather; mahogany; tweed; brass",
        "plaid stripes grid",
    ),
    "arts-and-crafts": _s(
        "Honest handcraft against the machine: solid oak with visible joinery, hammered "
        "copper, William Morris patterns and built-in inglenooks.",
        ("Morris Indigo", "#3b4a7a"),
        "visible joinery; hammered copper; William Morris prints; oak; inglenook",
        "Britain, then the United States",
        "c. 1880–1920",
        "Inspired by John Ruskin and William Morris, it rejected industrial mass "
        "production; in America Gustav Stickley's Craftsman furniture spread the style.",
        "quarter-sawn oak; hammered copper; leaded glass; hand-blocked linen",
        "grid checks chevron",
    ),
    "shaker": _s(
        "Utility perfected: simple, beautifully made furniture, peg rails for hanging "
        "chairs and tools, built-in storage and honest wood with muted milk-paint colours.",
        ("Red Ochre", "#94452f"),
        "peg rails; craftsmanship; simplicity; built-ins; milk paint",
        "the United States",
        "late 18th to 19th century",
        "It was made by the Shakers, a religious community whose belief in simplicity "
        "shaped pieces such as the oval boxes and ladder-back chairs of Mount Lebanon, New "
        "York.",
        "cherry; maple; milk paint; woven tape",
        "stripes grid checks",
    ),
    "prairie": _s(
        "Horizontal calm inspired by the Midwestern landscape: low, long lines, built-in "
        "furniture, art-glass windows and oak in earthy greens and ochres.",
        ("Bronze Green", "#5d6b45"),
        "horizontal lines; built-ins; art glass; quarter-sawn oak; earth tones",
        "Chicago, in the United States",
        "c. 1900–1917",
        "Frank Lloyd Wright and his Chicago contemporaries developed it; the Robie House "
        "(1909–1910) is its best-known example.",
        "quarter-sawn oak; art glass; Roman brick; copper",
        "grid bands blocks",
    ),
    "georgian": _s(
        "Proportion and restraint: symmetrical rooms, panelled walls, sash windows, "
        "classical mouldings and elegant, refined furniture.",
        ("Prussian Blue", "#23395b"),
        "symmetry; proportion; panelling; classical mouldings; sash windows",
        "Britain and Ireland",
        "1714–1830",
        "It spans the reigns of George I to George IV and drew on Palladian architecture; "
        "Thomas Chippendale published 'The Gentleman and Cabinet-Maker's Director' in 1754.",
        "mahogany; painted panelling; plaster mouldings; silk damask",
        "stripes grid checks",
    ),
    "regency": _s(
        "Elegant late neoclassicism: striped silk, sabre-legged chairs, brass inlay, "
        "strong wall colours and a taste for the exotic.",
        ("Primrose Yellow", "#e9d36b"),
        "striped silk; sabre legs; brass inlay; symmetry; chinoiserie",
        "Britain",
        "c. 1811–1830",
        "It is named after the Regency of the Prince of Wales, later George IV (1811–1820); "
        "Thomas Hope's 'Household Furniture and Interior Decoration' (1807) shaped its taste.",
        "rosewood; brass inlay; striped silk; gilding",
        "stripes checks scallops",
    ),
    "neoclassical": _s(
        "Classical order at home: columns and pilasters, symmetrical layouts, restrained "
        "ornament drawn from Greece and Rome, and a pale, cool palette.",
        ("Wedgwood Blue", "#8aa9c9"),
        "columns; symmetry; classical ornament; marble; restraint",
        "Britain, France and Italy",
        "c. 1750–1830",
        "Excavations at Herculaneum (from 1738) and Pompeii (from 1748) inspired it; Robert "
        "Adam's interiors defined the British version.",
        "marble; painted plaster; giltwood; jasperware",
        "stripes grid scallops",
    ),
    "french-empire": _s(
        "Imperial neoclassicism: massive mahogany with gilt-bronze mounts, Egyptian and "
        "Roman motifs, laurel wreaths and strong, formal symmetry.",
        ("Empire Crimson", "#9b1b30"),
        "gilt bronze; laurel wreaths; symmetry; Egyptian motifs; mahogany",
        "France",
        "c. 1800–1815",
        "Napoleon's architects Charles Percier and Pierre-François-Léonard Fontaine defined "
        "it, and their 'Recueil de décorations intérieures' (1801–1812) spread it across "
        "Europe.",
        "mahogany; gilt bronze; silk; marble",
        "stripes scallops rings",
    ),
    "gustavian": _s(
        "Swedish neoclassical grace: pale painted furniture, grey-blue and soft white "
        "walls, checked linens and gently worn finishes for northern light.",
        ("Gustavian Grey", "#b4bcb8"),
        "painted furniture; neoclassical; checked linen; pale palette; distressed",
        "Sweden",
        "1770s–1810s",
        "It is named after King Gustav III, who brought French neoclassical taste home "
        "after visiting Versailles; Swedish craftsmen painted the forms in pale colours "
        "instead of gilding them.",
        "painted pine; linen; tiled stoves; gilt mirror glass",
        "checks stripes grid",
    ),
    "biedermeier": _s(
        "Middle-class comfort with neoclassical restraint: light fruitwood veneers, "
        "simple geometric furniture, bright upholstery and intimate, liveable rooms.",
        ("Schönbrunn Yellow", "#eec24a"),
        "fruitwood veneer; simplicity; comfort; geometric; domestic",
        "Germany and Austria",
        "1815–1848",
        "It covers the years between the Congress of Vienna and the revolutions of 1848; "
        "the name was a later satire on a fictional, contented burgher, 'Gottlieb "
        "Biedermaier'.",
        "cherry veneer; birch veneer; ebonised wood; striped silk",
        "stripes blocks grid",
    ),
    "rococo": _s(
        "Light-hearted French ornament: asymmetrical shell and scroll carving, pastel "
        "panelling, gilding, mirrors and curvaceous furniture.",
        ("Celadon", "#a8c3a4"),
        "rocaille; asymmetry; pastel; gilding; curves",
        "France",
        "c. 1730–1765",
        "The name comes from 'rocaille', the shell and rock work of grottoes; Germain "
        "Boffrand's salons in the Hôtel de Soubise in Paris are celebrated examples.",
        "giltwood; silk; mirror glass; porcelain",
        "scallops rings dots",
    ),
    "gothic-revival": _s(
        "Medieval romance made domestic: pointed arches, tracery, carved oak, stained glass "
        "and deep jewel tones.",
        ("Amethyst", "#5b3a6b"),
        "pointed arches; tracery; stained glass; carved oak; jewel tones",
        "Britain",
        "c. 1740s–1900, peaking in the 1830s–1870s",
        "Horace Walpole's Strawberry Hill House (from 1749) launched it, and A. W. N. Pugin "
        "designed the Gothic interiors of the Palace of Westminster.",
        "carved oak; stained glass; encaustic tile; wrought iron",
        "chevron grid scallops",
    ),
    "chinoiserie": _s(
        "Europe's fantasy of East Asia: hand-painted wallpapers of birds and blossoms, "
        "blue-and-white porcelain, fretwork and lacquered furniture.",
        ("Ming Blue", "#1f4e99"),
        "hand-painted wallpaper; blue-and-white porcelain; fretwork; lacquer; pagodas",
        "Europe",
        "17th–18th century, revived many times since",
        "It flourished after the Dutch and English East India Companies brought porcelain, "
        "lacquer and silk to Europe; 'Chinese Chippendale' fretwork chairs are a famous "
        "offshoot.",
        "lacquer; porcelain; silk; bamboo",
        "chevron scallops grid",
    ),
    "de-stijl": _s(
        "Pure abstraction: straight lines, right angles, primary colours with black, white "
        "and grey, and furniture built as coloured planes.",
        ("Primary Yellow", "#f2c500"),
        "primary colours; grid; right angles; abstraction; planes",
        "the Netherlands",
        "1917–1931",
        "Founded in 1917 by Theo van Doesburg and Piet Mondrian, it produced Gerrit "
        "Rietveld's Red and Blue Chair (c. 1917–1923) and the Schröder House (1924).",
        "painted wood; plywood; glass; lacquer",
        "blocks grid",
    ),
    "streamline-moderne": _s(
        "Late Art Deco in motion: rounded corners, horizontal speed lines, chrome and glass "
        "block, and sleek, aerodynamic forms.",
        ("Mint", "#9fd3b8"),
        "rounded corners; speed lines; chrome; glass block; aerodynamic",
        "the United States",
        "the 1930s",
        "Inspired by the aerodynamics of ocean liners, trains and aircraft, it shaped "
        "buildings such as the Coca-Cola Building in Los Angeles (1939) and the hotels of "
        "Miami Beach.",
        "chrome; glass block; Bakelite; burl veneer",
        "bands stripes rings",
    ),
    "space-age": _s(
        "The futurist optimism of the Moon-race years: moulded plastic pods, white and "
        "orange, chrome, curved walls and glowing globe lights.",
        ("Tangerine", "#f28c28"),
        "moulded plastic; pod chairs; chrome; curves; futurism",
        "Europe and the United States",
        "c. 1957–1975",
        "Designers such as Eero Aarnio (Ball Chair, 1963), Verner Panton and Joe Colombo "
        "used new plastics to shape the futuristic interiors of the era.",
        "moulded fibreglass; ABS plastic; chrome; acrylic",
        "rings dots gradient",
    ),
    "retro-seventies": _s(
        "The 1970s revisited: sunken conversation pits, shag and velvet, curvy modular "
        "seating, smoked glass and warm harvest colours.",
        ("Avocado", "#6f7a2a"),
        "conversation pit; shag rug; velvet; modular seating; smoked glass",
        "the United States and Europe",
        "the 1970s",
        "Harvest gold and avocado green were standard colours even for kitchen appliances, "
        "and the sunken conversation pit of the Miller House (1957) became an icon of the "
        "lounging era that followed.",
        "shag wool; velvet; smoked glass; walnut veneer",
        "bands rings chevron",
    ),
    "postmodern": _s(
        "Wit and historical quotation: classical forms exaggerated and recoloured, pastel "
        "and bold hues, and furniture that plays with scale and symbols.",
        ("Coral", "#ee7f6b"),
        "historical quotation; wit; pastel; exaggerated forms; pediments",
        "the United States and Italy",
        "c. 1975–1995",
        "Robert Venturi answered Mies's 'less is more' with 'less is a bore' (1966); "
        "Michael Graves's Portland Building (1982) and Alessi kettle (1985) became emblems.",
        "laminate; faux marble; lacquered wood; terrazzo",
        "blocks scallops stripes",
    ),
    "high-tech": _s(
        "The machine celebrated: exposed structure and services, industrial components, "
        "glass and steel, and bright colour-coded pipes.",
        ("Chrome Silver", "#aab2b9"),
        "exposed structure; steel; glass; industrial components; colour coding",
        "Britain and France",
        "1970s–1980s",
        "Richard Rogers and Renzo Piano's Centre Pompidou (1977) put its colour-coded pipes "
        "on the outside, and Joan Kron and Suzanne Slesin's 1978 book 'High-Tech' brought "
        "the look into homes.",
        "stainless steel; glass; rubber flooring; perforated metal",
        "grid dots stripes",
    ),
    "alpine-chalet": _s(
        "Mountain cosiness: warm pine and larch cladding, carved details, wool and loden "
        "textiles, sheepskins and a roaring fire.",
        ("Loden Green", "#4a5d41"),
        "pine cladding; sheepskin; carved wood; wool; fireplace",
        "the Alps of Switzerland, Austria and Bavaria",
        "traditional; a holiday style since 19th-century Alpine tourism",
        "The chalet began as a herder's summer hut in the Swiss Alps and became a romantic "
        "holiday-house type with the rise of Alpine tourism in the 19th century.",
        "knotty pine; larch; loden wool; sheepskin",
        "plaid checks chevron",
    ),
    "parisian-chic": _s(
        "Effortless Haussmann elegance: herringbone parquet, ornate mouldings and marble "
        "fireplaces, paired with modern art and a few good antiques.",
        ("Blush Pink", "#e2b4a6"),
        "herringbone parquet; mouldings; marble fireplace; antiques; modern art",
        "Paris, France",
        "Haussmann apartments of 1853–1870, a look still popular today",
        "Baron Haussmann's renovation of Paris (1853–1870) produced the apartment buildings "
        "whose parquet, plaster mouldings and marble mantels define the look.",
        "oak parquet; marble; brass; velvet",
        "herringbone grid stripes",
    ),
}


def _r(purpose: str, pieces: str, materials: str, surface: str, colour: tuple[str, str]) -> RoomNotes:
    return RoomNotes(
        purpose=purpose,
        key_pieces=tuple(pieces.split("; ")),
        materials=tuple(materials.split("; ")),
        surface=surface,
        colour=colour,
    )


ROOMS: dict[str, RoomNotes] = {
    "living-room": _r(
        "gathers the household for conversation, reading and films, and receives guests",
        "sofa; armchairs; coffee table; area rug; floor lamp; media console",
        "upholstery fabric; wood; wool",
        "the main wall and the upholstery",
        ("Linen", "#e6dccb"),
    ),
    "kitchen": _r(
        "is where meals are prepared and often eaten, so it must work hard and clean easily",
        "cabinetry; island with stools; range hood; open shelving; pendant lights",
        "stone worktops; ceramic tile; hardwood",
        "the cabinetry",
        ("Butcher Block", "#b58a5a"),
    ),
    "dining-room": _r(
        "hosts shared meals and long conversations around one table",
        "dining table; dining chairs; sideboard; chandelier; rug",
        "solid wood; upholstery; glass",
        "the walls behind the sideboard",
        ("Candlelight", "#e8c98a"),
    ),
    "bedroom": _r(
        "is a private retreat for sleep and rest",
        "bed with headboard; nightstands; dresser; reading lamps; bench",
        "cotton bedding; wool; wood",
        "the headboard wall",
        ("Dusk", "#8e8aa3"),
    ),
    "bathroom": _r(
        "handles daily routines and should feel clean, bright and calm",
        "vanity; mirror; walk-in shower; bathtub; towel rail; wall sconces",
        "ceramic tile; stone; glass",
        "the tiles",
        ("Porcelain", "#eef0ec"),
    ),
    "home-office": _r(
        "supports focused work and video calls",
        "desk; ergonomic chair; bookshelves; task lamp; storage cabinet",
        "wood; metal; cork",
        "the wall behind the desk",
        ("Ink", "#3b4252"),
    ),
    "entryway": _r(
        "makes the first impression and handles keys, coats and shoes",
        "console table; mirror; bench; coat hooks; runner",
        "stone or tile flooring; wood; metal",
        "the front door and the walls",
        ("Doorstep Grey", "#9a958c"),
    ),
    "kids-room": _r(
        "is for sleep, play and growing up, and must adapt as the child does",
        "bed; toy storage; play rug; small desk; bookshelf",
        "washable paint; cotton; solid wood",
        "a feature wall",
        ("Sunny Yellow", "#f3d36b"),
    ),
    "nursery": _r(
        "is a calm room for a baby's sleep, feeding and changing",
        "crib; glider chair; changing table; dresser; blackout curtains",
        "low-VOC paint; organic cotton; wood",
        "the walls",
        ("Soft Mint", "#cfe6da"),
    ),
    "guest-room": _r(
        "welcomes visitors with comfort, good light and a little storage",
        "bed; nightstand; luggage rack; armchair; wardrobe",
        "cotton; wood; wool",
        "the bedding and curtains",
        ("Oat Milk", "#e9e1d2"),
    ),
    "laundry-room": _r(
        "is a working room for washing, drying, folding and storage",
        "washer and dryer; utility sink; folding counter; drying rack; cabinets",
        "porcelain tile; laminate; stainless steel",
        "the cabinetry",
        ("Clean Cotton", "#dde6ea"),
    ),
    "walk-in-closet": _r(
        "organises clothes, shoes and accessories in one dressing space",
        "hanging rails; shoe shelves; drawers; central island; full-length mirror",
        "wood veneer; glass; brass",
        "the cabinetry",
        ("Cashmere", "#d8c7b5"),
    ),
    "home-library": _r(
        "houses a book collection and invites long hours of reading",
        "floor-to-ceiling shelves; library ladder; reading chair; reading lamp; writing table",
        "wood; leather; wool",
        "the shelving",
        ("Library Green", "#3f5a48"),
    ),
    "reading-nook": _r(
        "is a small, sheltered corner made for reading",
        "window seat; cushions; throw blanket; reading lamp; side table",
        "upholstery; wool; wood",
        "the cushions and the walls of the nook",
        ("Honey", "#d9a441"),
    ),
    "sunroom": _r(
        "brings the garden inside with light from three sides",
        "lounge chairs; daybed; potted plants; side tables; blinds",
        "rattan; glass; tile",
        "the upholstery",
        ("Conservatory Green", "#88a96b"),
    ),
    "balcony": _r(
        "extends a home outdoors in a small footprint",
        "bistro set; planters; outdoor rug; string lights; folding lounger",
        "weatherproof wood; powder-coated metal; outdoor fabric",
        "the cushions and planters",
        ("Terrace Stone", "#b9a88f"),
    ),
    "patio": _r(
        "is for outdoor dining and lounging",
        "outdoor dining table; lounge seating; parasol; planters; fire pit",
        "stone pavers; teak; powder-coated aluminium",
        "the cushions and parasol",
        ("Garden Terracotta", "#c07a55"),
    ),
    "media-room": _r(
        "is built for films, games and music, with controlled light and sound",
        "sectional sofa; media wall; projector screen; blackout curtains; acoustic panels",
        "acoustic fabric; carpet; wood",
        "the acoustic panels",
        ("Midnight", "#24283b"),
    ),
    "home-gym": _r(
        "is for regular exercise at home",
        "rubber flooring; mirror wall; weights rack; bench; cardio machine",
        "rubber; steel; mirror glass",
        "a feature wall",
        ("Energy Orange", "#e07b39"),
    ),
    "wine-cellar": _r(
        "stores wine at a steady, cool temperature and shows off the collection",
        "wine racks; tasting table; stools; climate control; low lighting",
        "stone; brick; oak",
        "the racking",
        ("Bordeaux", "#5e1a2b"),
    ),
    "mudroom": _r(
        "catches mud, coats, boots and bags at the back door",
        "bench; cubbies; hooks; boot tray; durable rug",
        "slate; painted wood; metal",
        "the cubbies",
        ("Field Green", "#6e7d57"),
    ),
    "powder-room": _r(
        "is a small guest washroom where bold choices are welcome",
        "vessel sink; statement mirror; wall sconces; towel ring; wallpaper",
        "wallpaper; stone; brass",
        "the wallpaper",
        ("Jewel Teal", "#1f6f78"),
    ),
    "attic": _r(
        "turns the space under the roof into a bedroom, studio or retreat",
        "low built-in storage; skylight blinds; daybed; desk; rug",
        "exposed beams; painted timber; wool",
        "the sloping ceiling",
        ("Rafter Brown", "#8a6b4e"),
    ),
    "basement": _r(
        "becomes a family room, playroom or bar below ground",
        "sectional sofa; bar counter; game table; layered lighting; area rug",
        "luxury vinyl plank; plasterboard; carpet",
        "the walls",
        ("Lantern Amber", "#c98b3c"),
    ),
}

# --- generic fallbacks for slugs the notes do not cover ---------------------------------

_GENERIC_COLOURS: tuple[tuple[str, str], ...] = (
    ("Terracotta", "#c46a4a"),
    ("Sage", "#9aa88a"),
    ("Dusty Rose", "#c99a9a"),
    ("Slate Blue", "#5e7390"),
    ("Ochre", "#c8902f"),
    ("Forest Green", "#2f5a3f"),
    ("Plum", "#6d3f5b"),
    ("Sand", "#d8c39e"),
    ("Charcoal", "#3b3b3f"),
    ("Teal", "#2f7d7b"),
    ("Rust", "#a4502c"),
    ("Powder Blue", "#a9c1d9"),
    ("Olive", "#7b7b45"),
    ("Ivory", "#efe7d2"),
    ("Burgundy", "#7a2337"),
    ("Moss", "#6c7a46"),
)
_GENERIC_KEYWORDS: tuple[str, ...] = (
    "balanced proportions",
    "layered textures",
    "natural light",
    "considered palette",
    "tactile materials",
    "quiet symmetry",
    "statement lighting",
    "curated objects",
    "soft geometry",
    "honest craftsmanship",
)
_GENERIC_MATERIALS: tuple[str, ...] = (
    "oak",
    "linen",
    "wool",
    "stone",
    "brass",
    "ceramic",
    "rattan",
    "plaster",
    "walnut",
    "glass",
)
_GENERIC_PIECES: tuple[str, ...] = (
    "a statement light",
    "a comfortable chair",
    "a side table",
    "built-in storage",
    "a rug",
    "a mirror",
    "shelving",
    "a bench",
)


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode()).digest()


def _pick(items: tuple[str, ...], count: int, digest: bytes) -> tuple[str, ...]:
    # A deterministic selection without repeats, driven by successive digest bytes.
    pool = list(items)
    chosen: list[str] = []
    for byte in digest[:count]:
        chosen.append(pool.pop(byte % len(pool)))
    return tuple(chosen)


def generic_style(slug: str, name: str) -> StyleNotes:
    """Returns deterministic, honest generic notes for a style the table does not know."""
    digest = _digest("style", slug)
    colour = _GENERIC_COLOURS[digest[0] % len(_GENERIC_COLOURS)]
    keywords = _pick(_GENERIC_KEYWORDS, 4, digest[1:])
    materials = _pick(_GENERIC_MATERIALS, 3, digest[8:])
    return StyleNotes(
        approach=(
            f"{name} interpreted through {keywords[0]} and {keywords[1]}: a considered "
            f"palette built around {colour[0].lower()}, honest materials, and furniture "
            "chosen for how each room is really used."
        ),
        colour=colour,
        keywords=keywords,
        origin="the plan that asked for it",
        era="no period on record",
        fact=(
            f"The offline provider has no reference notes for {name}, so this profile is "
            "composed from general interior-design principles rather than its history."
        ),
        materials=materials,
        patterns=("stripes", "checks", "dots", "grid", "gradient", "chevron"),
        known=False,
    )


def generic_room(slug: str, name: str) -> RoomNotes:
    """Returns deterministic generic notes for a room type the table does not know."""
    digest = _digest("room", slug)
    return RoomNotes(
        purpose=f"is arranged around how a {name.lower()} is used day to day",
        key_pieces=_pick(_GENERIC_PIECES, 4, digest),
        materials=_pick(_GENERIC_MATERIALS, 3, digest[8:]),
        surface="the walls",
        colour=_GENERIC_COLOURS[digest[16] % len(_GENERIC_COLOURS)],
        known=False,
    )


def style_notes(slug: str, name: str) -> StyleNotes:
    """Returns the notes for a style slug, or generic ones for an unknown slug."""
    return STYLES.get(slug) or generic_style(slug, name)


def room_notes(slug: str, name: str) -> RoomNotes:
    """Returns the notes for a room slug, or generic ones for an unknown slug."""
    return ROOMS.get(slug) or generic_room(slug, name)
