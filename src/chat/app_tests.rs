//! The chat application state's unit tests: name completion, and the
//! selection following its conversation.

mod completion {
    use curbside_protocol::frames::DirectoryEntry;

    use super::super::*;

    fn person(id: &str, name: &str) -> DirectoryEntry {
        DirectoryEntry {
            user_id: UserId::new(id).unwrap(),
            display_name: name.into(),
            specialty: "Dermatology".into(),
            npi: String::new(),
        }
    }

    fn key(app: &mut App, state: &LocalState, code: KeyCode) -> Option<Action> {
        app.handle_key(KeyEvent::new(code, KeyModifiers::NONE), state)
    }

    #[test]
    fn tab_completes_a_name_from_any_of_its_words_and_lists_several() {
        let mut state = LocalState::new();
        state.remember(person("u_me", "Dr. Alice Adeyemi"));
        state.remember(person("u_bob", "Dr. Bob Brennan"));
        state.remember(person("u_bea", "Dr. Bea Brown"));
        let mut app = App::new(UserId::new("u_me").unwrap());
        for c in "/to bo".chars() {
            key(&mut app, &state, KeyCode::Char(c));
        }
        key(&mut app, &state, KeyCode::Tab);
        assert_eq!(app.input, "/to Dr. Bob Brennan");
        // Two fit: both listed, the input kept; the user is never offered.
        app.input = "/to b".into();
        key(&mut app, &state, KeyCode::Tab);
        assert_eq!(app.input, "/to b");
        let panel = app.panel.clone().unwrap();
        assert_eq!(panel.lines, ["Dr. Bea Brown", "Dr. Bob Brennan"]);
        app.input = "/to ad".into();
        key(&mut app, &state, KeyCode::Tab);
        assert!(app.notice.contains("No colleague you know"), "{}", app.notice);
    }

    /// Found by a user: Ctrl-U typed a "u" into the line instead of clearing it.
    #[test]
    fn ctrl_u_clears_the_line_and_other_control_keys_type_nothing() {
        let state = LocalState::new();
        let mut app = App::new(UserId::new("u_me").unwrap());
        app.input = "/consult Dermatology: typo".into();
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        app.handle_key(ctrl('a'), &state);
        assert_eq!(app.input, "/consult Dermatology: typo");
        app.handle_key(ctrl('u'), &state);
        assert_eq!(app.input, "");
    }
}

mod selection {
    use super::super::*;

    /// A first message from a colleague who sorts before the one selected
    /// must not move what Enter sends to (found by a user: the text went to
    /// the wrong colleague).
    #[test]
    fn the_selection_stays_on_its_conversation_when_another_arrives() {
        let mut state = LocalState::new();
        let (alice, zed, aaron) = (
            UserId::new("u_m_alice").unwrap(),
            UserId::new("u_z_zed").unwrap(),
            UserId::new("u_a_aaron").unwrap(),
        );
        state.contacts.entry(alice.clone()).or_default();
        state.contacts.entry(zed).or_default();
        let mut app = App::new(UserId::new("u_me").unwrap());
        app.select(&state, &Conversation::With(alice.clone()));
        state.contacts.entry(aaron).or_default();
        assert_eq!(app.current(&state), Some(Conversation::With(alice.clone())));
        let Some(Action::Send(to, text, _)) = ({
            for c in "for Alice only".chars() {
                app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), &state);
            }
            app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &state)
        }) else {
            panic!("Enter sends");
        };
        assert_eq!((to, text.as_str()), (Conversation::With(alice), "for Alice only"));
    }
}
