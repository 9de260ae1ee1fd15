# The painting of each bundled style (artist, title, year), for the models' metadata:
# sourced by the training scripts.
# shellcheck disable=SC2034
declare -A painting=(
  [vg_starry_night]="Vincent van Gogh, The Starry Night (1889)"
  [wave_crop]="Katsushika Hokusai, The Great Wave off Kanagawa (c. 1831), crop"
  [the_scream]="Edvard Munch, The Scream (1893)"
  [shipwreck]="J. M. W. Turner, The Shipwreck (1805)"
  [kandinsky_composition_vii]="Wassily Kandinsky, Composition VII (1913)"
  [udnie]="Francis Picabia, Udnie (1913)"
  [vg_wheat_field]="Vincent van Gogh, Wheat Field with Cypresses (1889)"
  [vg_la_cafe]="Vincent van Gogh, Café Terrace at Night (1888)"
  [monet_water_lilies]="Claude Monet, Water Lilies, crop"
  [woman-with-hat-matisse]="Henri Matisse, Woman with a Hat (1905)"
  [tahiti_guaguin]="Paul Gauguin, Tahitian scene"
  [edtaonisl]="Francis Picabia, Edtaonisl (1913)"
)
# Every painting of ../shared/styles, in the order the listings use.
all_styles=(vg_starry_night wave_crop the_scream shipwreck kandinsky_composition_vii udnie
  vg_wheat_field vg_la_cafe monet_water_lilies woman-with-hat-matisse tahiti_guaguin edtaonisl)
