"""Canned responses: reusable replies (title, shortcut, text, language) that agents insert into the console's
reply box by typing "/" and the shortcut; admins maintain them."""
